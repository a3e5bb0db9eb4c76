"""Settings of the activity service and its consumer: safe defaults, refused nonsense, and the
README's promise to document every one of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from activity_service.settings import ActivitySettings
from common.settings import InsecureSettings

README = Path(__file__).resolve().parents[3] / "README.md"
PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "secret_key": "x" * 48,
    "trusted_hosts": "api.example.com",
    "jwt_issuer": "https://auth.example.com",
}


class TestActivitySettings:
    def test_defaults(self) -> None:
        settings = ActivitySettings(_env_file=None, environment="development")
        assert (settings.service_name, settings.db_schema) == ("activity", "activity")
        assert (settings.audit_stream, settings.audit_consumer_group) == (
            "audit.events",
            "activity",
        )
        assert settings.audit_consumer_batch_size == 500
        assert settings.audit_consumer_block_ms == 1000
        assert settings.audit_consumer_claim_idle_ms == 60_000
        assert settings.audit_consumer_max_deliveries == 5
        assert settings.audit_consumer_metrics_port is None

    def test_a_complete_production_configuration_is_accepted(self) -> None:
        assert ActivitySettings(_env_file=None, **PRODUCTION).is_production

    def test_production_refuses_the_development_secret(self) -> None:
        values = {k: v for k, v in PRODUCTION.items() if k != "secret_key"}
        with pytest.raises(InsecureSettings, match="SECRET_KEY is the development default"):
            ActivitySettings(_env_file=None, **values)

    @pytest.mark.parametrize(
        "field",
        [
            {"audit_consumer_batch_size": 0},
            {"audit_consumer_batch_size": 100_000},
            {"audit_consumer_block_ms": 0},  # BLOCK 0 would wait forever, deaf to SIGTERM
            {"audit_consumer_claim_idle_ms": 0},
            {"audit_consumer_max_deliveries": 0},
            {"audit_consumer_metrics_port": 70_000},
            {"audit_consumer_group": ""},
        ],
    )
    def test_refuses_values_that_cannot_work(self, field: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            ActivitySettings(_env_file=None, **field)

    def test_reads_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AUDIT_CONSUMER_BATCH_SIZE", "250")
        monkeypatch.setenv("AUDIT_CONSUMER_GROUP", "audit-archive")
        settings = ActivitySettings(_env_file=None, environment="development")
        assert (settings.audit_consumer_batch_size, settings.audit_consumer_group) == (
            250,
            "audit-archive",
        )


class TestReadme:
    @pytest.mark.parametrize("field", sorted(ActivitySettings.model_fields))
    def test_documents_every_setting(self, field: str) -> None:
        assert f"`{field.upper()}`" in README.read_text(encoding="utf-8")
