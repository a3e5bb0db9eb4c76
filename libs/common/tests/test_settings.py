"""`ServiceSettings`: values from the environment and `.env`, and a production mode that refuses
to start with insecure values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from common.settings import DEV_SECRET_KEY, Environment, ServiceSettings

STRONG_KEY = "k" * 48


def production(**overrides: Any) -> ServiceSettings:
    """Production settings that pass every check, changed by `overrides`."""
    values: dict[str, Any] = {
        "environment": "production",
        "secret_key": STRONG_KEY,
        "trusted_hosts": ["api.example.com"],
        "cors_origins": ["https://app.example.com"],
    }
    values.update(overrides)
    return ServiceSettings(_env_file=None, **values)


class TestDefaults:
    def test_development_accepts_the_development_defaults(self) -> None:
        settings = ServiceSettings(_env_file=None)

        assert settings.environment is Environment.DEVELOPMENT
        assert settings.secret_key.get_secret_value() == DEV_SECRET_KEY
        assert settings.trusted_hosts == ["*"]
        assert settings.cors_origins == []
        assert not settings.is_production

    def test_secret_key_is_hidden_from_repr(self) -> None:
        settings = ServiceSettings(_env_file=None, secret_key=STRONG_KEY)

        assert STRONG_KEY not in repr(settings)
        assert STRONG_KEY not in str(settings.model_dump())

    def test_settings_are_immutable(self) -> None:
        settings = ServiceSettings(_env_file=None)

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
        assert ServiceSettings(_env_file=None, log_json=True).json_logs is True


class TestProductionRefusals:
    def test_secure_production_settings_are_accepted(self) -> None:
        settings = production()

        assert settings.is_production
        assert settings.trusted_hosts == ["api.example.com"]

    def test_refuses_the_development_secret_key(self) -> None:
        with pytest.raises(ValidationError, match="SECRET_KEY is the development default"):
            production(secret_key=DEV_SECRET_KEY)

    def test_refuses_a_secret_key_shorter_than_32_characters(self) -> None:
        with pytest.raises(ValidationError, match="SECRET_KEY is shorter than 32 characters"):
            production(secret_key="s" * 31)

    def test_accepts_a_secret_key_of_exactly_32_characters(self) -> None:
        assert len(production(secret_key="s" * 32).secret_key.get_secret_value()) == 32

    def test_refuses_the_default_wildcard_trusted_hosts(self) -> None:
        values: dict[str, Any] = {"environment": "production", "secret_key": STRONG_KEY}

        with pytest.raises(ValidationError, match="TRUSTED_HOSTS allows any host"):
            ServiceSettings(_env_file=None, **values)

    def test_refuses_a_wildcard_among_trusted_hosts(self) -> None:
        with pytest.raises(ValidationError, match="TRUSTED_HOSTS allows any host"):
            production(trusted_hosts=["api.example.com", "*"])

    def test_refuses_a_wildcard_cors_origin(self) -> None:
        with pytest.raises(ValidationError, match="CORS_ORIGINS allows any origin"):
            production(cors_origins=["*"])

    def test_refuses_sql_echo(self) -> None:
        with pytest.raises(ValidationError, match="DB_ECHO logs every statement"):
            production(db_echo=True)

    def test_lists_every_problem_at_once(self) -> None:
        with pytest.raises(ValidationError) as caught:
            production(secret_key=DEV_SECRET_KEY, trusted_hosts=["*"], db_echo=True)

        message = str(caught.value)
        assert "SECRET_KEY is the development default" in message
        assert "TRUSTED_HOSTS allows any host" in message
        assert "DB_ECHO" in message

    def test_the_test_environment_is_not_held_to_production_rules(self) -> None:
        settings = ServiceSettings(_env_file=None, environment="test", db_echo=True)

        assert settings.db_echo is True


class TestEnvironmentVariables:
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

        with pytest.raises(ValidationError, match="SECRET_KEY is the development default"):
            ServiceSettings(_env_file=None)

    def test_out_of_range_values_are_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DB_POOL_SIZE", "0")

        with pytest.raises(ValidationError, match="db_pool_size"):
            ServiceSettings(_env_file=None)


class TestDotEnvFile:
    def test_values_are_read_from_the_env_file(self, tmp_path: Path) -> None:
        env_file = tmp_path / ".env"
        env_file.write_text(
            "SERVICE_NAME=from-dotenv\nCORS_ORIGINS=https://a.test,https://b.test\n"
        )

        settings = ServiceSettings(_env_file=env_file)

        assert settings.service_name == "from-dotenv"
        assert settings.cors_origins == ["https://a.test", "https://b.test"]

    def test_environment_variables_win_over_the_env_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        env_file = tmp_path / ".env"
        env_file.write_text("SERVICE_NAME=from-dotenv\n")
        monkeypatch.setenv("SERVICE_NAME", "from-environment")

        assert ServiceSettings(_env_file=env_file).service_name == "from-environment"

    def test_unknown_variables_are_ignored(self, tmp_path: Path) -> None:
        env_file = tmp_path / ".env"
        env_file.write_text("SOMETHING_ELSE=1\nSERVICE_NAME=known\n")

        assert ServiceSettings(_env_file=env_file).service_name == "known"
