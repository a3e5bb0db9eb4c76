"""Access-token verification against a JWKS, per RFC 8725 (JWT BCP) and RFC 9068 (JWT access
tokens).

Only RS256 is accepted, only with a key whose `kid` the JWKS lists; `typ` must be `at+jwt`;
`iss`, `aud`, `exp`, `nbf`, `iat`, `sub` and `jti` are required. Parsed keys are cached and
refetched when they age out or when a token names an unknown `kid` (at most once per
`min_refresh_interval`, so forged kids cannot make us hammer the JWKS endpoint). Verified tokens
are cached until they expire, which makes a repeated token nearly free.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from common.errors import InvalidToken, ServiceUnavailable, TokenExpired
from common.security.principal import Principal
from common.security.revocation import RevocationList

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]
MIN_RSA_BITS = 2048

JwksSource = Callable[[], Awaitable[Mapping[str, Any]]]


class JwksUnavailable(ServiceUnavailable):
    code = "jwks_unavailable"
    message = "The token signing keys cannot be fetched; try again later."


def http_jwks_source(url: str, client: httpx.AsyncClient) -> JwksSource:
    """A JWKS fetched over HTTP, as every service but auth gets it."""

    async def fetch() -> Mapping[str, Any]:
        response = await client.get(url)
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("JWKS is not a JSON object")
        return document

    return fetch


def parse_jwks(document: Mapping[str, Any]) -> dict[str, RSAPublicKey]:
    """RSA signing keys by kid; keys of any other kind, use or algorithm are ignored."""
    keys: dict[str, RSAPublicKey] = {}
    for entry in document.get("keys", []):
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            key = jwt.PyJWK(entry, algorithm=ALGORITHM).key
        # PyJWT reports a malformed key (bad `n`, missing `e`) as InvalidKeyError, which is not
        # a PyJWKError; one bad entry must not make the whole JWKS unusable.
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            logger.warning("ignoring a JWKS entry that does not parse (kid=%s)", kid)
            continue
        if isinstance(key, RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
            keys[kid] = key
    return keys


def _string_list(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidToken("The access token's claims are malformed.")
    return frozenset(value)


class TokenVerifier:
    def __init__(
        self,
        source: JwksSource,
        *,
        issuer: str,
        audience: str,
        leeway: int = 30,
        cache_seconds: float = 300.0,
        min_refresh_interval: float = 10.0,
        token_cache_size: int = 10_000,
        revocations: RevocationList | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.cache_seconds = cache_seconds
        self.min_refresh_interval = min_refresh_interval
        self.token_cache_size = token_cache_size
        self.revocations = revocations
        self._clock = clock
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._refresh_lock = asyncio.Lock()
        self._tokens: OrderedDict[str, Principal] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The token's principal; refused if it is invalid, expired or revoked (a cached token
        is checked against the revocations every time, like a new one)."""
        now = self._clock()
        cached = self._tokens.get(token)
        if cached is not None:
            if cached.expires_at + self.leeway > now:
                self._tokens.move_to_end(token)
                if self.revocations is not None:
                    self.revocations.check(cached)
                return cached
            del self._tokens[token]
            raise TokenExpired
        principal = await self._verify_uncached(token)
        if self.token_cache_size:
            self._tokens[token] = principal
            if len(self._tokens) > self.token_cache_size:
                self._tokens.popitem(last=False)
        if self.revocations is not None:
            self.revocations.check(principal)
        return principal

    async def _verify_uncached(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("The access token is malformed.") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("The access token's algorithm is not accepted.")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("The token is not an access token.")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("The access token names no signing key.")
        key = await self._key(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken from exc
        subject, jti, exp, iat = claims["sub"], claims["jti"], claims["exp"], claims["iat"]
        client_id, session_id = claims.get("client_id"), claims.get("sid")
        if not (isinstance(subject, str) and subject and isinstance(jti, str)):
            raise InvalidToken("The access token's claims are malformed.")
        if not all(v is None or isinstance(v, str) for v in (client_id, session_id)):
            raise InvalidToken("The access token's claims are malformed.")
        return Principal(
            subject=subject,
            roles=_string_list(claims.get("roles", [])),
            permissions=_string_list(claims.get("permissions", [])),
            token_id=jti,
            expires_at=int(exp),
            client_id=client_id,
            session_id=session_id,
            issued_at=int(iat),
        )

    async def _key(self, kid: str) -> RSAPublicKey:
        now = self._clock()
        self._refuse_while_unreachable(now)
        stale = self._fetched_at is None or now - self._fetched_at >= self.cache_seconds
        if stale or (kid not in self._keys and self._may_refresh(now)):
            await self._refresh(kid)
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("The access token was signed by an unknown key.")
        return key

    def _refuse_while_unreachable(self, now: float) -> None:
        """With no keys at all and a failed fetch less than the floor ago, answer 503 at once
        instead of letting every request wait on an unreachable JWKS."""
        if (
            not self._keys
            and self._failed_at is not None
            and now - self._failed_at < self.min_refresh_interval
        ):
            raise JwksUnavailable

    def _may_refresh(self, now: float) -> bool:
        return self._fetched_at is None or now - self._fetched_at >= self.min_refresh_interval

    async def _refresh(self, wanted_kid: str) -> None:
        async with self._refresh_lock:
            now = self._clock()
            self._refuse_while_unreachable(now)
            # Another request may have refreshed while this one waited for the lock.
            fresh = self._fetched_at is not None and now - self._fetched_at < self.cache_seconds
            if fresh and (wanted_kid in self._keys or not self._may_refresh(now)):
                return
            try:
                keys = parse_jwks(await self._source())
            except Exception as exc:
                if not self._keys:
                    self._failed_at = now
                    raise JwksUnavailable from exc
                # Keep verifying with the keys we have; try again after the floor.
                logger.warning("JWKS refresh failed, keeping cached keys: %r", exc)
                self._fetched_at = now - self.cache_seconds + self.min_refresh_interval
                return
            if set(self._keys) - set(keys):
                # A key was withdrawn: tokens it signed must not live on in the cache.
                self._tokens.clear()
            self._keys = keys
            self._fetched_at = now
            self._failed_at = None
