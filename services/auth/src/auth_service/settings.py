"""Settings of the auth service (environment variables of the same names, upper-case).

Production refuses, on top of what every service refuses: reset links written to the log or
mailed without TLS, and a PUBLIC_URL, PASSWORD_RESET_URL or EMAIL_VERIFICATION_URL that is plain
http or this machine (the last two only while they are mailed: not with the account pages on).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final, Literal

from pydantic import Field, SecretStr, field_validator

from common.settings import Environment, ServiceSettings, public_https_url_problem

# The account pages (`routes/pages.py`), under PUBLIC_URL; the mailed links add `?token=`.
RESET_PAGE: Final = "/account/reset-password"
VERIFICATION_PAGE: Final = "/account/verify-email"


class AuthSettings(ServiceSettings):
    service_name: str = "auth"
    db_schema: str = "auth"
    public_url: str = "http://localhost:8001"

    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    jwt_client_id: str = "first-party"
    signing_key_bits: int = Field(default=2048, ge=2048, le=4096)
    signing_key_recheck_seconds: float = Field(default=5.0, ge=0, le=60)

    password_min_length: int = Field(default=12, ge=8, le=64)
    password_hash_concurrency: int = Field(default=2, ge=1, le=64)
    # Requests that may wait for (or hold) a hashing thread; beyond, 429 `server_busy` at once
    # instead of an ever longer queue.
    password_hash_max_waiting: int = Field(default=64, ge=1, le=100_000)

    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    # When Redis cannot be asked how many attempts an account had: refuse logins (False, 503)
    # or let them through unthrottled (True).
    login_throttle_fail_open: bool = False

    registration_max_per_ip: int = Field(default=20, ge=1)
    registration_window_seconds: int = Field(default=3600, ge=1)
    client_credentials_max_failures_per_ip: int = Field(default=20, ge=1)

    password_reset_ttl_seconds: int = Field(default=1800, ge=60, le=86400)
    password_reset_max_per_hour: int = Field(default=3, ge=1)
    # Where the mailed link points (your front end); {token} is replaced by the reset token.
    password_reset_url: str = "http://localhost:3000/reset-password?token={token}"  # noqa: S105

    # E-mail verification: sign-in needs it when required; then registration answers the same
    # for new and existing addresses (and mails the owner of an existing one).
    require_email_verification: bool = False
    email_verification_ttl_seconds: int = Field(default=86400, ge=300, le=7 * 86400)
    email_verification_url: str = "http://localhost:3000/verify-email?token={token}"
    # Minimal HTML pages of auth's own that finish a reset or a verification without a front
    # end; while they are on, the mailed links point to them instead of the two URLs above.
    # Unset: on in development only.
    account_pages_enabled: bool | None = None

    mail_backend: Literal["log", "smtp"] = "log"
    mail_from: str = "no-reply@localhost"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = 10.0

    @field_validator("password_reset_url", "email_verification_url")
    @classmethod
    def _link_carries_the_token(cls, url: str) -> str:
        if "{token}" not in url:
            raise ValueError("the link must contain {token}")
        return url

    @property
    def docs_sign_in_url(self) -> str:
        """Auth's own docs sign in at its own token endpoint, on their origin, unless
        DOCS_TOKEN_URL says otherwise."""
        return self.docs_token_url or f"{self.api_prefix}/auth/token"

    @property
    def serves_account_pages(self) -> bool:
        if self.account_pages_enabled is None:
            return self.environment is Environment.DEVELOPMENT
        return self.account_pages_enabled

    def password_reset_link(self, token: str) -> str:
        """The link a reset mail carries: the account page, or the front end's URL."""
        return self._link(RESET_PAGE, self.password_reset_url, token)

    def email_verification_link(self, token: str) -> str:
        """The link a verification mail carries: the account page, or the front end's URL."""
        return self._link(VERIFICATION_PAGE, self.email_verification_url, token)

    def _link(self, page: str, front_end_url: str, token: str) -> str:
        if self.serves_account_pages:
            return f"{self.public_url.rstrip('/')}{page}?token={token}"
        return front_end_url.replace("{token}", token)

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.mail_backend == "log":
            problems.append("MAIL_BACKEND=log writes reset links to the log; use smtp")
        elif not (self.smtp_starttls or self.smtp_ssl):
            problems.append(
                "MAIL_BACKEND=smtp sends reset links in clear text; set SMTP_STARTTLS or SMTP_SSL"
            )
        urls = [("PUBLIC_URL", self.public_url)]
        if not self.serves_account_pages:
            urls += [
                ("PASSWORD_RESET_URL", self.password_reset_url),
                ("EMAIL_VERIFICATION_URL", self.email_verification_url),
            ]
        for name, url in urls:
            problem = public_https_url_problem(name, url)
            if problem:
                problems.append(problem)
        return problems


@lru_cache
def get_settings() -> AuthSettings:
    return AuthSettings()
