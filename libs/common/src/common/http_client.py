"""Service-to-service HTTP: timeouts always, retries only where repeating is safe, the request
id passed on, and a service token from the auth service's client-credentials grant.

Idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) are retried on transport errors and on 502,
503 and 504, with exponential backoff and jitter. Other methods are retried only when the
connection was never made, since then the server cannot have acted on them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from common.context import get_request_id
from common.errors import ServiceUnavailable
from common.middleware import REQUEST_ID_HEADER

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class UpstreamUnavailable(ServiceUnavailable):
    code = "upstream_unavailable"
    message = "A service this request depends on is unavailable; try again later."


class ServiceTokenProvider:
    """Fetches a service access token and reuses it until shortly before it expires."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        client: httpx.AsyncClient,
        refresh_margin: float = 30.0,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._client = client
        self.refresh_margin = refresh_margin
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at - self.refresh_margin:
                self._token, lifetime = await self._fetch()
                self._expires_at = time.monotonic() + lifetime
            return self._token

    def invalidate(self) -> None:
        self._token = None

    async def _fetch(self) -> tuple[str, float]:
        try:
            response = await self._client.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self._client_secret),
                headers=_request_id_header(),
            )
        except httpx.TransportError as exc:
            raise UpstreamUnavailable from exc
        if response.status_code != 200:
            raise UpstreamUnavailable(
                f"The auth service refused the service credentials ({response.status_code})."
            )
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in", 60))


def _request_id_header() -> dict[str, str]:
    request_id = get_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}


class ServiceClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = 2,
        backoff: float = 0.1,
        token_provider: ServiceTokenProvider | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self.retries = retries
        self.backoff = backoff
        self.token_provider = token_provider

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS
        auth_retried = False
        attempt = 0
        while True:
            request_headers = {**_request_id_header(), **(headers or {})}
            if self.token_provider is not None:
                request_headers["Authorization"] = f"Bearer {await self.token_provider.token()}"
            try:
                response = await self._client.request(
                    method, path, json=json, params=params, headers=request_headers
                )
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if attempt < self.retries and (idempotent or never_sent):
                    attempt += 1
                    await self._sleep(attempt)
                    continue
                raise UpstreamUnavailable from exc
            if response.status_code == 401 and self.token_provider and not auth_retried:
                # The cached token may have been signed by a key that was rotated away.
                self.token_provider.invalidate()
                auth_retried = True
                continue
            if response.status_code in RETRY_STATUSES and idempotent and attempt < self.retries:
                attempt += 1
                await self._sleep(attempt)
                continue
            return response

    async def _sleep(self, attempt: int) -> None:
        delay = self.backoff * (2 ** (attempt - 1))
        await asyncio.sleep(delay + random.uniform(0, delay))  # noqa: S311 (jitter, not crypto)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)
