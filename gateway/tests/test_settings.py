"""The gateway's settings: the routing table of DESIGN.md §4 by default, and a clear refusal
of a table or an upstream that cannot work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.settings import GatewaySettings

README = Path(__file__).resolve().parents[2] / "README.md"


def make(**values: Any) -> GatewaySettings:
    return GatewaySettings(_env_file=None, environment="test", **values)


class TestDefaults:
    def test_the_routes_of_the_contract_go_to_auth_and_activity(self) -> None:
        settings = make()

        assert settings.gateway_routes == {
            "/api/v1/auth": "auth",
            "/api/v1/users": "auth",
            "/api/v1/roles": "auth",
            "/api/v1/permissions": "auth",
            "/.well-known": "auth",
            "/api/v1/activity": "activity",
        }
        urls = {name: up.url for name, up in settings.gateway_upstreams.items()}
        assert urls == {"auth": "http://127.0.0.1:8001", "activity": "http://127.0.0.1:8002"}

    def test_timeouts_are_finite(self) -> None:
        for upstream in make().gateway_upstreams.values():
            assert 0 < upstream.connect_timeout <= 60
            assert 0 < upstream.read_timeout <= 3600

    def test_production_starts_with_its_usual_settings(self) -> None:
        settings = GatewaySettings(
            _env_file=None,
            environment="production",
            secret_key="p" * 48,
            trusted_hosts=["api.example.com"],
            jwt_issuer="https://auth.example.com",
        )

        assert settings.trusted_proxies == []  # nobody's X-Forwarded-For is believed

    def test_the_table_comes_from_the_environment_as_json(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(
            "GATEWAY_UPSTREAMS",
            json.dumps({"auth": {"url": "https://auth.internal:8443/", "read_timeout": 5}}),
        )
        monkeypatch.setenv("GATEWAY_ROUTES", json.dumps({"/api/v1/auth": "auth"}))

        settings = make()

        assert settings.gateway_routes == {"/api/v1/auth": "auth"}
        auth = settings.gateway_upstreams["auth"]
        assert (auth.url, auth.read_timeout) == ("https://auth.internal:8443", 5)


class TestRefusals:
    @pytest.mark.parametrize(
        ("url", "says"),
        [
            ("auth.internal:8001", "is not an http"),
            ("ftp://auth.internal", "is not an http"),
            ("http://", "is not an http"),
            ("http://auth.internal/api", "has a path"),
            ("http://auth.internal?x=1", "has a path"),
            ("http://user@auth.internal", "has a path"),
            ("http://auth.internal:99999", "invalid port"),
        ],
    )
    def test_an_upstream_url_that_cannot_work(self, url: str, says: str) -> None:
        with pytest.raises(ValidationError, match=says):
            make(gateway_upstreams={"auth": {"url": url}}, gateway_routes={})

    @pytest.mark.parametrize("timeout", [0, -1, 100_000])
    def test_a_timeout_out_of_range(self, timeout: float) -> None:
        with pytest.raises(ValidationError, match="read_timeout"):
            make(gateway_upstreams={"a": {"url": "http://a", "read_timeout": timeout}})

    def test_an_unknown_field_of_an_upstream(self) -> None:
        with pytest.raises(ValidationError, match="timeout_read"):
            make(gateway_upstreams={"a": {"url": "http://a", "timeout_read": 1}})

    @pytest.mark.parametrize("prefix", ["api/v1/auth", "/api/v1/auth/", "/", "//x"])
    def test_a_prefix_that_is_not_one(self, prefix: str) -> None:
        with pytest.raises(ValidationError, match="not a path prefix"):
            make(gateway_routes={prefix: "auth"})

    def test_a_route_to_an_upstream_that_is_not_there(self) -> None:
        with pytest.raises(ValidationError, match=r"lacks: \['storage'\]"):
            make(gateway_routes={"/api/v1/files": "storage"})


class TestReadme:
    @pytest.mark.parametrize("field", sorted(set(GatewaySettings.model_fields)))
    def test_documents_every_setting(self, field: str) -> None:
        assert f"`{field.upper()}`" in README.read_text(encoding="utf-8")
