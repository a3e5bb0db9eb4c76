"""`ServiceSettings`: values from the environment and `.env`, and production, the default, that
refuses to start with insecure values and says at once everything there is to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from common.settings import (
    AUTH_TOKEN_PATH,
    DEV_AUTH_TOKEN_URL,
    DEV_SECRET_KEY,
    Environment,
    InsecureSettings,
    ServiceSettings,
)

STRONG_KEY = "k" * 48


def production(**overrides: Any) -> ServiceSettings:
    """Production settings that pass every check, changed by `overrides`."""
    values: dict[str, Any] = {
        "environment": "production",
        "secret_key": STRONG_KEY,
        "trusted_hosts": ["api.example.com"],
        "cors_origins": ["https://app.example.com"],
        "jwt_issuer": "https://auth.example.com",
    }
    values.update(overrides)
    return ServiceSettings(_env_file=None, **values)


def development(**overrides: Any) -> ServiceSettings:
    return ServiceSettings(_env_file=None, environment="development", **overrides)


@pytest.fixture(autouse=True)
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting in the environment (a developer's shell or `make` may have exported some):
    each test says what it reads."""
    for field in ServiceSettings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)


class TestDefaults:
    def test_without_configuration_the_environment_is_production(self) -> None:
        with pytest.raises(InsecureSettings) as caught:
            ServiceSettings(_env_file=None)

        assert caught.value.problems == [
            "SECRET_KEY is the development default",
            "TRUSTED_HOSTS allows any host",
            "JWT_ISSUER is not an https URL (http://localhost:8001)",
        ]

    def test_the_refusal_says_what_to_fix_and_how_to_run_locally(self) -> None:
        with pytest.raises(InsecureSettings) as caught:
            ServiceSettings(_env_file=None)

        message = str(caught.value)
        assert message.startswith(
            "ENVIRONMENT is production (the default when it is not set), which refuses:\n"
        )
        assert "\n  - SECRET_KEY is the development default\n" in message
        assert "\n  - TRUSTED_HOSTS allows any host\n" in message
        assert "ENVIRONMENT=development" in message

    def test_development_accepts_the_development_defaults(self) -> None:
        settings = development()

        assert settings.environment is Environment.DEVELOPMENT
        assert settings.secret_key.get_secret_value() == DEV_SECRET_KEY
        assert settings.trusted_hosts == ["*"]
        assert settings.cors_origins == []
        assert not settings.is_production

    def test_secret_key_is_hidden_from_repr(self) -> None:
        settings = development(secret_key=STRONG_KEY)

        assert STRONG_KEY not in repr(settings)
        assert STRONG_KEY not in str(settings.model_dump())

    def test_settings_are_immutable(self) -> None:
        settings = development()

        with pytest.raises(ValidationError, match="frozen"):
            settings.service_name = "changed"  # type: ignore[misc]  # the point of the test


class TestJsonLogs:
    def test_production_logs_json_lines(self) -> None:
        assert production().json_logs is True

    @pytest.mark.parametrize("environment", ["development", "test"])
    def test_other_environments_log_readable_lines(self, environment: str) -> None:
        assert ServiceSettings(_env_file=None, environment=environment).json_logs is False

    def test_an_explicit_choice_wins_over_the_environment(self) -> None:
        assert production(log_json=False).json_logs is False
        assert development(log_json=True).json_logs is True


class TestDocs:
    def test_production_serves_no_docs_unless_told_to(self) -> None:
        assert production().serves_docs is False
        assert production(docs_enabled=True).serves_docs is True

    @pytest.mark.parametrize("environment", ["development", "test"])
    def test_other_environments_serve_them_unless_told_not_to(self, environment: str) -> None:
        assert ServiceSettings(_env_file=None, environment=environment).serves_docs is True
        assert (
            ServiceSettings(_env_file=None, environment=environment, docs_enabled=False).serves_docs
            is False
        )


class TestDocsTokenUrl:
    def test_outside_production_the_docs_sign_in_at_auth_on_8001(self) -> None:
        assert development().docs_sign_in_url == "http://localhost:8001/api/v1/auth/token"
        assert development().docs_sign_in_url == DEV_AUTH_TOKEN_URL

    def test_production_signs_in_on_the_docs_own_origin_unless_told_otherwise(self) -> None:
        assert production().docs_sign_in_url == "/api/v1/auth/token"
        assert production(docs_token_url=None).docs_sign_in_url == AUTH_TOKEN_PATH

    @pytest.mark.parametrize(
        "url", ["https://auth.example.com/api/v1/auth/token", "/auth/api/v1/auth/token"]
    )
    def test_an_explicit_url_or_path_wins(self, url: str) -> None:
        assert development(docs_token_url=url).docs_sign_in_url == url
        assert production(docs_token_url=url).docs_sign_in_url == url

    def test_set_but_empty_is_unset(self) -> None:
        assert development(docs_token_url="").docs_token_url is None

    @pytest.mark.parametrize(
        "url", ["auth.example.com/token", "ftp://auth.example.com/token", "//evil.example/t", "t"]
    )
    def test_refuses_what_is_neither_an_http_url_nor_a_path(self, url: str) -> None:
        with pytest.raises(ValidationError, match="DOCS_TOKEN_URL must be an http"):
            development(docs_token_url=url)

    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            ("http://auth.example.com/api/v1/auth/token", "DOCS_TOKEN_URL is not an https URL"),
            ("https://localhost:8001/api/v1/auth/token", "DOCS_TOKEN_URL points at this machine"),
        ],
    )
    def test_production_refuses_a_url_that_is_not_public_https(
        self, url: str, problem: str
    ) -> None:
        with pytest.raises(InsecureSettings, match=problem):
            production(docs_token_url=url)


class TestProductionRefusals:
    def test_secure_production_settings_are_accepted(self) -> None:
        settings = production()

        assert settings.is_production
        assert settings.trusted_hosts == ["api.example.com"]

    def test_refuses_the_development_secret_key(self) -> None:
        with pytest.raises(InsecureSettings, match="SECRET_KEY is the development default"):
            production(secret_key=DEV_SECRET_KEY)

    def test_refuses_a_secret_key_shorter_than_32_characters(self) -> None:
        with pytest.raises(InsecureSettings, match="SECRET_KEY is shorter than 32 characters"):
            production(secret_key="s" * 31)

    def test_accepts_a_secret_key_of_exactly_32_characters(self) -> None:
        assert len(production(secret_key="s" * 32).secret_key.get_secret_value()) == 32

    def test_refuses_the_default_wildcard_trusted_hosts(self) -> None:
        values: dict[str, Any] = {
            "environment": "production",
            "secret_key": STRONG_KEY,
            "jwt_issuer": "https://auth.example.com",
        }

        with pytest.raises(InsecureSettings, match="TRUSTED_HOSTS allows any host"):
            ServiceSettings(_env_file=None, **values)

    def test_refuses_a_wildcard_among_trusted_hosts(self) -> None:
        with pytest.raises(InsecureSettings, match="TRUSTED_HOSTS allows any host"):
            production(trusted_hosts=["api.example.com", "*"])

    def test_refuses_a_wildcard_cors_origin(self) -> None:
        with pytest.raises(InsecureSettings, match="CORS_ORIGINS allows any origin"):
            production(cors_origins=["*"])

    @pytest.mark.parametrize(
        "origin",
        [
            "http://app.example.com",
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://user@app.example.com",
            "https://localhost:3000",
            "https://127.0.0.1",
        ],
    )
    def test_refuses_a_cors_origin_that_is_not_a_public_https_origin(self, origin: str) -> None:
        with pytest.raises(InsecureSettings, match=f"CORS_ORIGINS has {origin}"):
            production(cors_origins=["https://app.example.com", origin])

    def test_accepts_https_origins_with_a_port(self) -> None:
        origins = ["https://app.example.com", "https://admin.example.com:8443"]

        assert production(cors_origins=origins).cors_origins == origins

    @pytest.mark.parametrize(
        ("issuer", "problem"),
        [
            ("http://auth.example.com", "JWT_ISSUER is not an https URL"),
            ("auth.example.com", "JWT_ISSUER is not an https URL"),
            ("https://localhost:8001", "JWT_ISSUER points at this machine"),
            ("https://auth.localhost", "JWT_ISSUER points at this machine"),
            ("https://127.0.0.1:8001", "JWT_ISSUER points at this machine"),
            ("https://127.8.9.10", "JWT_ISSUER points at this machine"),
            ("https://[::1]:8001", "JWT_ISSUER points at this machine"),
            ("https://0.0.0.0", "JWT_ISSUER points at this machine"),
        ],
    )
    def test_refuses_an_issuer_that_is_not_public_https(self, issuer: str, problem: str) -> None:
        with pytest.raises(InsecureSettings, match=problem):
            production(jwt_issuer=issuer)

    def test_refuses_sql_echo(self) -> None:
        with pytest.raises(InsecureSettings, match="DB_ECHO logs every statement"):
            production(db_echo=True)

    def test_lists_every_problem_at_once(self) -> None:
        with pytest.raises(InsecureSettings) as caught:
            production(
                secret_key=DEV_SECRET_KEY,
                trusted_hosts=["*"],
                db_echo=True,
                jwt_issuer="http://localhost:8001",
            )

        assert caught.value.problems == [
            "SECRET_KEY is the development default",
            "TRUSTED_HOSTS allows any host",
            "DB_ECHO logs every statement and its parameters",
            "JWT_ISSUER is not an https URL (http://localhost:8001)",
        ]

    def test_the_refusal_does_not_repeat_other_settings(self) -> None:
        """Pydantic's own errors quote the input, the database password with it."""
        with pytest.raises(InsecureSettings) as caught:
            production(
                secret_key=DEV_SECRET_KEY,
                database_url="postgresql+asyncpg://app:hunter2-db@db.internal/app",
            )

        assert "hunter2-db" not in str(caught.value)
        assert DEV_SECRET_KEY not in str(caught.value)

    def test_the_test_environment_is_not_held_to_production_rules(self) -> None:
        settings = ServiceSettings(_env_file=None, environment="test", db_echo=True)

        assert settings.db_echo is True


class TestEveryEnvironment:
    @pytest.mark.parametrize("environment", ["development", "test", "production"])
    def test_refuses_the_null_cors_origin(self, environment: str) -> None:
        """`Origin: null` is what sandboxed iframes and file:// pages send: any site can."""
        values: dict[str, Any] = {
            "environment": environment,
            "secret_key": STRONG_KEY,
            "trusted_hosts": ["api.example.com"],
            "jwt_issuer": "https://auth.example.com",
            "cors_origins": ["https://app.example.com", "null"],
        }

        with pytest.raises(ValidationError, match="the null origin"):
            ServiceSettings(_env_file=None, **values)

    def test_development_allows_plain_http_origins_and_issuer(self) -> None:
        settings = development(cors_origins=["http://localhost:3000"])

        assert settings.cors_origins == ["http://localhost:3000"]
        assert settings.jwt_issuer == "http://localhost:8001"


class TestEnvironmentVariables:
    @pytest.fixture(autouse=True)
    def _development(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ENVIRONMENT", "development")

    def test_csv_cors_origins_parse_into_a_list(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CORS_ORIGINS", "https://a.example.com,https://b.example.com")

        settings = ServiceSettings(_env_file=None)

        assert settings.cors_origins == ["https://a.example.com", "https://b.example.com"]

    def test_csv_items_are_trimmed_and_empty_items_dropped(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TRUSTED_HOSTS", " api.example.com , ,*.example.org, ")

        settings = ServiceSettings(_env_file=None)

        assert settings.trusted_hosts == ["api.example.com", "*.example.org"]

    def test_a_single_value_is_a_one_item_list(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CORS_ORIGINS", "https://app.example.com")

        assert ServiceSettings(_env_file=None).cors_origins == ["https://app.example.com"]

    def test_csv_is_accepted_as_a_keyword_argument_too(self) -> None:
        settings = ServiceSettings(_env_file=None, cors_origins="https://a.test,https://b.test")

        assert settings.cors_origins == ["https://a.test", "https://b.test"]

    def test_upper_case_variables_set_fields(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SERVICE_NAME", "billing")
        monkeypatch.setenv("DB_POOL_SIZE", "3")
        monkeypatch.setenv("ACCESS_LOG", "false")

        settings = ServiceSettings(_env_file=None)

        assert (settings.service_name, settings.db_pool_size, settings.access_log) == (
            "billing",
            3,
            False,
        )

    def test_production_is_checked_for_values_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ENVIRONMENT", "production")
        monkeypatch.setenv("TRUSTED_HOSTS", "api.example.com")

        with pytest.raises(InsecureSettings, match="SECRET_KEY is the development default"):
            ServiceSettings(_env_file=None)

    def test_out_of_range_values_are_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DB_POOL_SIZE", "0")

        with pytest.raises(ValidationError, match="db_pool_size"):
            ServiceSettings(_env_file=None)


class TestDotEnvFile:
    def test_values_are_read_from_the_env_file(self, tmp_path: Path) -> None:
        env_file = tmp_path / ".env"
        env_file.write_text(
            "ENVIRONMENT=development\n"
            "SERVICE_NAME=from-dotenv\nCORS_ORIGINS=https://a.test,https://b.test\n"
        )

        settings = ServiceSettings(_env_file=env_file)

        assert settings.service_name == "from-dotenv"
        assert settings.cors_origins == ["https://a.test", "https://b.test"]

    def test_environment_variables_win_over_the_env_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        env_file = tmp_path / ".env"
        env_file.write_text("ENVIRONMENT=development\nSERVICE_NAME=from-dotenv\n")
        monkeypatch.setenv("SERVICE_NAME", "from-environment")

        assert ServiceSettings(_env_file=env_file).service_name == "from-environment"

    def test_unknown_variables_are_ignored(self, tmp_path: Path) -> None:
        env_file = tmp_path / ".env"
        env_file.write_text("ENVIRONMENT=development\nSOMETHING_ELSE=1\nSERVICE_NAME=known\n")

        assert ServiceSettings(_env_file=env_file).service_name == "known"

    def test_the_example_env_file_is_for_development(self) -> None:
        """`make dev` copies it to `.env`: it must say development, not rely on a default."""
        example = Path(__file__).resolve().parents[3] / ".env.example"

        settings = ServiceSettings(_env_file=example)

        assert settings.environment is Environment.DEVELOPMENT
