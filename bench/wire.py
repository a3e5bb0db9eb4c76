"""Raw HTTP/1.1 requests, built once before a run so the load generator only writes bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping

USER_AGENT = "fastapi-microservices-bench/1"


def _request(method: str, path: str, host: str, headers: Mapping[str, str], body: str) -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"User-Agent: {USER_AGENT}"]
    lines += ["Accept: application/json", *(f"{name}: {value}" for name, value in headers.items())]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body.encode())}"]
    return "\r\n".join(lines) + "\r\n\r\n" + body


def get(path: str, *, host: str, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return _request("GET", path, host, headers, "")


def post_json(path: str, body: object, *, host: str) -> str:
    return _request("POST", path, host, {}, json.dumps(body, ensure_ascii=True))
