"""Settings of the auth service, and the README's promise to document every one of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from auth_service.settings import AuthSettings

README = Path(__file__).resolve().parents[3] / "README.md"
PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "secret_key": "x" * 48,
    "trusted_hosts": "api.example.com",
    "mail_backend": "smtp",
}


class TestAuthSettings:
    def test_a_complete_production_configuration_is_accepted(self) -> None:
        settings = AuthSettings(_env_file=None, **PRODUCTION)
        assert settings.is_production
        assert settings.json_logs

    def test_production_refuses_mail_in_the_log(self) -> None:
        with pytest.raises(ValidationError, match="MAIL_BACKEND=log"):
            AuthSettings(_env_file=None, **{**PRODUCTION, "mail_backend": "log"})

    def test_production_refuses_the_development_secret(self) -> None:
        values = {k: v for k, v in PRODUCTION.items() if k != "secret_key"}
        with pytest.raises(ValidationError, match="SECRET_KEY is the development default"):
            AuthSettings(_env_file=None, **values)

    def test_the_reset_link_must_carry_the_token(self) -> None:
        with pytest.raises(ValidationError, match=r"\{token\}"):
            AuthSettings(_env_file=None, password_reset_url="https://app.example.com/reset")

    def test_the_password_minimum_cannot_go_below_eight(self) -> None:
        with pytest.raises(ValidationError):
            AuthSettings(_env_file=None, password_min_length=6)


class TestReadme:
    @pytest.mark.parametrize("field", sorted(AuthSettings.model_fields))
    def test_documents_every_setting(self, field: str) -> None:
        assert f"`{field.upper()}`" in README.read_text(encoding="utf-8")
