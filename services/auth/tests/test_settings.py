"""Settings of the auth service: production refuses what would weaken it, naming every problem
at once, and the README's promise to document every setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from auth_service.settings import AuthSettings
from common.settings import InsecureSettings
from common.testing import free_port

README = Path(__file__).resolve().parents[3] / "README.md"
PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "secret_key": "x" * 48,
    "trusted_hosts": "api.example.com",
    "jwt_issuer": "https://auth.example.com",
    "public_url": "https://auth.example.com",
    "password_reset_url": "https://app.example.com/reset-password?token={token}",
    "email_verification_url": "https://app.example.com/verify-email?token={token}",
    "mail_backend": "smtp",
    "smtp_starttls": True,
}


@pytest.fixture(autouse=True)
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting from a developer's shell: each test says what it reads."""
    for field in AuthSettings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)


def production(**overrides: Any) -> AuthSettings:
    return AuthSettings(_env_file=None, **{**PRODUCTION, **overrides})


class TestAuthSettings:
    def test_a_complete_production_configuration_is_accepted(self) -> None:
        settings = production()
        assert settings.is_production
        assert settings.json_logs

    def test_production_refuses_mail_in_the_log(self) -> None:
        with pytest.raises(InsecureSettings, match="MAIL_BACKEND=log"):
            production(mail_backend="log")

    def test_production_refuses_smtp_without_tls(self) -> None:
        with pytest.raises(InsecureSettings, match="set SMTP_STARTTLS or SMTP_SSL"):
            production(smtp_starttls=False, smtp_ssl=False)

    def test_production_accepts_smtp_over_tls_from_the_start(self) -> None:
        assert production(smtp_starttls=False, smtp_ssl=True).smtp_ssl

    @pytest.mark.parametrize(
        "field", ["public_url", "password_reset_url", "email_verification_url"]
    )
    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            ("http://auth.example.com/{token}", "is not an https URL"),
            ("https://localhost:3000/{token}", "points at this machine"),
            ("https://127.0.0.1/{token}", "points at this machine"),
        ],
    )
    def test_production_refuses_urls_that_are_not_public_https(
        self, field: str, url: str, problem: str
    ) -> None:
        with pytest.raises(InsecureSettings, match=f"{field.upper()} {problem}"):
            production(**{field: url})

    def test_auths_docs_sign_in_at_its_own_token_endpoint(self) -> None:
        development = AuthSettings(_env_file=None, environment="development")
        explicit = "https://auth.example.com/api/v1/auth/token"

        assert development.docs_sign_in_url == "/api/v1/auth/token"
        assert production().docs_sign_in_url == "/api/v1/auth/token"
        assert production(docs_token_url=explicit).docs_sign_in_url == explicit

    def test_production_refuses_the_development_secret(self) -> None:
        values = {k: v for k, v in PRODUCTION.items() if k != "secret_key"}
        with pytest.raises(InsecureSettings, match="SECRET_KEY is the development default"):
            AuthSettings(_env_file=None, **values)

    def test_one_refusal_names_the_services_problems_and_the_shared_ones(self) -> None:
        with pytest.raises(InsecureSettings) as caught:
            AuthSettings(_env_file=None, environment="production")

        assert caught.value.problems == [
            "SECRET_KEY is the development default",
            "TRUSTED_HOSTS allows any host",
            "JWT_ISSUER is not an https URL (http://localhost:8001)",
            "MAIL_BACKEND=log writes reset links to the log; use smtp",
            "PUBLIC_URL is not an https URL (http://localhost:8001)",
            "PASSWORD_RESET_URL is not an https URL "
            "(http://localhost:3000/reset-password?token={token})",
            "EMAIL_VERIFICATION_URL is not an https URL "
            "(http://localhost:3000/verify-email?token={token})",
        ]

    @pytest.mark.parametrize("field", ["password_reset_url", "email_verification_url"])
    def test_a_mailed_link_must_carry_the_token(self, field: str) -> None:
        with pytest.raises(ValidationError, match=r"\{token\}"):
            AuthSettings.model_validate(
                {"environment": "development", field: "https://app.example.com/reset"}
            )

    def test_the_password_minimum_cannot_go_below_eight(self) -> None:
        with pytest.raises(ValidationError):
            AuthSettings(_env_file=None, environment="development", password_min_length=6)


class TestAccountPages:
    @pytest.mark.parametrize(
        ("environment", "served"), [("development", True), ("test", False), ("production", False)]
    )
    def test_are_on_by_default_in_development_only(self, environment: str, served: bool) -> None:
        values = {**PRODUCTION, "environment": environment}
        assert AuthSettings(_env_file=None, **values).serves_account_pages is served

    @pytest.mark.parametrize("environment", ["development", "test", "production"])
    @pytest.mark.parametrize("enabled", [True, False])
    def test_the_setting_wins_everywhere(self, environment: str, enabled: bool) -> None:
        values = {**PRODUCTION, "environment": environment, "account_pages_enabled": enabled}
        assert AuthSettings(_env_file=None, **values).serves_account_pages is enabled

    def test_while_on_the_mailed_links_lead_to_them_under_the_public_url(self) -> None:
        settings = production(account_pages_enabled=True, public_url="https://id.example.com/")
        assert settings.password_reset_link("t0k") == (
            "https://id.example.com/account/reset-password?token=t0k"
        )
        assert settings.email_verification_link("t0k") == (
            "https://id.example.com/account/verify-email?token=t0k"
        )

    def test_while_off_the_mailed_links_are_the_front_ends(self) -> None:
        settings = production(account_pages_enabled=False)
        assert settings.password_reset_link("t0k") == (
            "https://app.example.com/reset-password?token=t0k"
        )
        assert settings.email_verification_link("t0k") == (
            "https://app.example.com/verify-email?token=t0k"
        )

    def test_production_with_them_needs_no_front_end_urls_but_a_public_url(self) -> None:
        front_end = ("password_reset_url", "email_verification_url")
        values = {k: v for k, v in PRODUCTION.items() if k not in front_end}
        assert AuthSettings(_env_file=None, **values, account_pages_enabled=True)
        with pytest.raises(InsecureSettings) as caught:
            AuthSettings(
                _env_file=None,
                **{**values, "public_url": "http://id.example.com"},
                account_pages_enabled=True,
            )
        assert caught.value.problems == ["PUBLIC_URL is not an https URL (http://id.example.com)"]


class TestUnconfiguredStart:
    def test_the_service_refuses_to_start_and_says_what_to_fix(self, tmp_path: Path) -> None:
        """`uvicorn auth_service.main:create_app` with no settings at all (no variables, no
        `.env`): production, which refuses every development default, all named at once."""
        env = {k: v for k, v in os.environ.items() if k.lower() not in AuthSettings.model_fields}
        try:
            started = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "auth_service.main:create_app",
                    "--factory",
                    "--port",
                    str(free_port()),
                ],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError("the unconfigured service started and kept running") from exc

        assert started.returncode != 0
        assert "ENVIRONMENT is production (the default when it is not set)" in started.stderr
        for problem in (
            "SECRET_KEY is the development default",
            "TRUSTED_HOSTS allows any host",
            "JWT_ISSUER is not an https URL",
            "MAIL_BACKEND=log",
            "PUBLIC_URL is not an https URL",
            "PASSWORD_RESET_URL is not an https URL",
        ):
            assert f"  - {problem}" in started.stderr
        assert "ENVIRONMENT=development" in started.stderr


class TestReadme:
    @pytest.mark.parametrize("field", sorted(AuthSettings.model_fields))
    def test_documents_every_setting(self, field: str) -> None:
        assert f"`{field.upper()}`" in README.read_text(encoding="utf-8")
