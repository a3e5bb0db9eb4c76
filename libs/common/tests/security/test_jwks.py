"""`TokenVerifier`: access tokens checked per RFC 8725 and RFC 9068 against a JWKS fetched over
real HTTP, with the keys and the verified tokens cached, and the JWKS refetched on an unknown
`kid` no more often than `min_refresh_interval` allows."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from common.errors import InvalidToken, TokenExpired
from common.security import (
    JwksSource,
    JwksUnavailable,
    Principal,
    TokenVerifier,
    http_jwks_source,
    parse_jwks,
)
from common.security.jwks import REQUIRED_CLAIMS
from common.testing import free_port, serve_app

Mint = Callable[..., str]
JwkOf = Callable[[RSAPrivateKey, str], dict[str, Any]]
VerifierFactory = Callable[..., TokenVerifier]


class JwksEndpoint:
    """The auth service's JWKS as other services see it: a real HTTP endpoint whose keys a
    test changes and whose fetches it counts."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.status = 200
        self.body: Any = None
        self.url = ""
        self.app = Starlette(routes=[Route("/.well-known/jwks.json", self.handle)])

    async def handle(self, request: Request) -> JSONResponse:
        self.fetches += 1
        if self.status != 200:
            return JSONResponse({"detail": "unavailable"}, status_code=self.status)
        return JSONResponse({"keys": self.keys} if self.body is None else self.body)


class Clock:
    """The verifier's clock, moved by the test instead of by waiting."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
async def jwks_server() -> AsyncIterator[JwksEndpoint]:
    endpoint = JwksEndpoint()
    async with serve_app(endpoint.app) as base_url:
        endpoint.url = f"{base_url}/.well-known/jwks.json"
        yield endpoint


@pytest.fixture
def jwks(jwks_server: JwksEndpoint, signing_key: RSAPrivateKey, jwk_of: JwkOf) -> JwksEndpoint:
    """The served JWKS, reset for the test: it publishes `signing_key` as `key-1`."""
    jwks_server.keys = [jwk_of(signing_key, "key-1")]
    jwks_server.fetches = 0
    jwks_server.status = 200
    jwks_server.body = None
    return jwks_server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_verifier(
    jwks: JwksEndpoint, http: httpx.AsyncClient, clock: Clock, issuer: str, audience: str
) -> VerifierFactory:
    """A verifier of the served JWKS (or of `source`), with `options` changed."""

    def make(source: JwksSource | None = None, **options: Any) -> TokenVerifier:
        values: dict[str, Any] = {
            "issuer": issuer,
            "audience": audience,
            "leeway": 5,
            "cache_seconds": 300,
            "min_refresh_interval": 10,
            "clock": clock,
        }
        values.update(options)
        return TokenVerifier(source or http_jwks_source(jwks.url, http), **values)

    return make


@pytest.fixture
def verifier(make_verifier: VerifierFactory) -> TokenVerifier:
    return make_verifier()


@dataclass(frozen=True)
class RotatedKey:
    """The key the auth service rotates to: `key-2`, not yet in the JWKS the test starts with."""

    jwk: dict[str, Any]
    mint: Mint


@pytest.fixture(scope="session")
def rotated(other_key: RSAPrivateKey, jwk_of: JwkOf, mint: Mint) -> RotatedKey:
    return RotatedKey(
        jwk=jwk_of(other_key, "key-2"), mint=partial(mint, key=other_key, kid="key-2")
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def unsigned(claims: Mapping[str, Any]) -> str:
    """An `alg: none` token: a header and claims, no signature."""
    header = {"alg": "none", "typ": "at+jwt", "kid": "key-1"}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(key: RSAPrivateKey, claims: Mapping[str, Any]) -> str:
    """The algorithm-confusion forgery: HMAC-signed with the public key as the secret."""
    secret = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "key-1"}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


async def refusal(verifier: TokenVerifier, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    return caught.value


class TestValidToken:
    async def test_becomes_a_principal_with_the_tokens_claims(
        self, verifier: TokenVerifier, mint: Mint
    ) -> None:
        token = mint(
            sub="7d3f0e9c-2c1e-4f7a-9d53-1f1f3a0c2b11",
            roles=["admin", "user"],
            permissions=["users:read", "users:write"],
            jti="token-1",
            exp=2_000_000_000,
            client_id="web",
            sid="session-9",
            iat=1_700_000_000,
        )

        principal = await verifier.verify(token)

        assert principal == Principal(
            subject="7d3f0e9c-2c1e-4f7a-9d53-1f1f3a0c2b11",
            roles=frozenset({"admin", "user"}),
            permissions=frozenset({"users:read", "users:write"}),
            token_id="token-1",
            expires_at=2_000_000_000,
            client_id="web",
            session_id="session-9",
            issued_at=1_700_000_000,
        )

    async def test_roles_and_permissions_may_be_absent(
        self, verifier: TokenVerifier, mint: Mint
    ) -> None:
        principal = await verifier.verify(mint(omit=["roles", "permissions"]))

        assert (principal.roles, principal.permissions) == (frozenset(), frozenset())

    async def test_a_service_token_is_accepted(self, verifier: TokenVerifier, mint: Mint) -> None:
        principal = await verifier.verify(mint(sub="service:billing", client_id="billing"))

        assert principal.is_service
        assert principal.client_id == "billing"


class TestHeader:
    async def test_alg_none_is_refused(self, verifier: TokenVerifier, mint: Mint) -> None:
        error = await refusal(verifier, unsigned(claims_of(mint())))

        assert error.code == "invalid_token"
        assert error.detail == "The access token's algorithm is not accepted."

    async def test_hs256_signed_with_the_public_key_is_refused(
        self, verifier: TokenVerifier, mint: Mint, signing_key: RSAPrivateKey
    ) -> None:
        forged = hs256_with_public_key(signing_key, claims_of(mint()))

        error = await refusal(verifier, forged)

        assert error.code == "invalid_token"
        assert error.detail == "The access token's algorithm is not accepted."

    @pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256"])
    async def test_other_rsa_algorithms_are_refused(
        self, verifier: TokenVerifier, mint: Mint, alg: str
    ) -> None:
        error = await refusal(verifier, mint(alg=alg))

        assert error.detail == "The access token's algorithm is not accepted."

    @pytest.mark.parametrize("typ", ["JWT", "jwt", "id+jwt", None])
    async def test_a_token_that_is_not_an_access_token_is_refused(
        self, verifier: TokenVerifier, mint: Mint, typ: str | None
    ) -> None:
        error = await refusal(verifier, mint(typ=typ))

        assert error.code == "invalid_token"
        assert error.detail == "The token is not an access token."

    @pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
    async def test_the_access_token_types_are_accepted(
        self, verifier: TokenVerifier, mint: Mint, typ: str
    ) -> None:
        principal = await verifier.verify(mint(typ=typ))

        assert principal.roles == frozenset({"user"})

    async def test_a_token_without_kid_is_refused(
        self, verifier: TokenVerifier, mint: Mint
    ) -> None:
        error = await refusal(verifier, mint(kid=None))

        assert error.detail == "The access token names no signing key."


class TestClaims:
    async def test_an_expired_token_is_token_expired(
        self, verifier: TokenVerifier, mint: Mint
    ) -> None:
        now = int(time.time())

        with pytest.raises(TokenExpired) as caught:
            await verifier.verify(mint(iat=now - 600, nbf=now - 600, exp=now - 60))

        assert (caught.value.status_code, caught.value.code) == (401, "token_expired")

    async def test_expiry_within_the_leeway_is_tolerated(
        self, verifier: TokenVerifier, mint: Mint
    ) -> None:
        now = int(time.time())

        principal = await verifier.verify(mint(iat=now - 600, nbf=now - 600, exp=now - 2))

        assert principal.expires_at == now - 2

    async def test_a_token_not_yet_valid_is_refused(
        self, verifier: TokenVerifier, mint: Mint
    ) -> None:
        error = await refusal(verifier, mint(nbf=int(time.time()) + 120))

        assert error.code == "invalid_token"

    async def test_another_audience_is_refused(self, verifier: TokenVerifier, mint: Mint) -> None:
        error = await refusal(verifier, mint(aud="another-api"))

        assert (error.status_code, error.code) == (401, "invalid_token")

    async def test_one_of_several_audiences_matching_is_enough(
        self, verifier: TokenVerifier, mint: Mint, audience: str
    ) -> None:
        principal = await verifier.verify(mint(aud=["another-api", audience]))

        assert principal.token_id

    async def test_another_issuer_is_refused(self, verifier: TokenVerifier, mint: Mint) -> None:
        error = await refusal(verifier, mint(iss="https://evil.example"))

        assert (error.status_code, error.code) == (401, "invalid_token")

    @pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
    async def test_a_missing_required_claim_is_refused(
        self, verifier: TokenVerifier, mint: Mint, claim: str
    ) -> None:
        error = await refusal(verifier, mint(omit=[claim]))

        assert error.code == "invalid_token"

    @pytest.mark.parametrize(
        "claims",
        [
            {"sub": ""},
            {"roles": "admin"},
            {"permissions": ["users:read", 7]},
            {"client_id": 12},
            {"sid": ["s"]},
        ],
    )
    async def test_malformed_claims_are_refused(
        self, verifier: TokenVerifier, mint: Mint, claims: dict[str, Any]
    ) -> None:
        error = await refusal(verifier, mint(**claims))

        assert error.code == "invalid_token"


class TestSignature:
    async def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(
        self, verifier: TokenVerifier, mint: Mint, other_key: RSAPrivateKey
    ) -> None:
        error = await refusal(verifier, mint(key=other_key, kid="key-1"))

        assert error.code == "invalid_token"

    async def test_a_tampered_payload_is_refused(self, verifier: TokenVerifier, mint: Mint) -> None:
        header, _, signature = mint().split(".")
        claims = claims_of(mint(permissions=["everything:any"]))

        tampered = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"

        assert (await refusal(verifier, tampered)).code == "invalid_token"


class TestMalformed:
    @pytest.mark.parametrize(
        "token", ["", "garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9", "eyJ.eyJ.sig", "...."]
    )
    async def test_a_malformed_token_is_invalid_token(
        self, verifier: TokenVerifier, token: str
    ) -> None:
        error = await refusal(verifier, token)

        assert error.code == "invalid_token"
        assert error.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'

    async def test_malformed_tokens_do_not_fetch_the_jwks(
        self, verifier: TokenVerifier, jwks: JwksEndpoint
    ) -> None:
        await refusal(verifier, "garbage")

        assert jwks.fetches == 0


class TestKeyRefresh:
    async def test_keys_are_fetched_once_and_reused(
        self, verifier: TokenVerifier, mint: Mint, jwks: JwksEndpoint
    ) -> None:
        for _ in range(3):
            await verifier.verify(mint())

        assert jwks.fetches == 1

    async def test_an_unknown_kid_refetches_once_then_is_refused(
        self,
        verifier: TokenVerifier,
        mint: Mint,
        jwks: JwksEndpoint,
        other_key: RSAPrivateKey,
        clock: Clock,
    ) -> None:
        await verifier.verify(mint())
        clock.advance(10)

        error = await refusal(verifier, mint(key=other_key, kid="key-unknown"))

        assert error.detail == "The access token was signed by an unknown key."
        assert jwks.fetches == 2

    async def test_unknown_kids_cannot_make_it_refetch_within_the_floor(
        self,
        verifier: TokenVerifier,
        mint: Mint,
        jwks: JwksEndpoint,
        other_key: RSAPrivateKey,
        clock: Clock,
    ) -> None:
        await verifier.verify(mint())
        clock.advance(10)
        await refusal(verifier, mint(key=other_key, kid="forged-1"))

        for number in range(9):
            clock.advance(1)
            await refusal(verifier, mint(key=other_key, kid=f"forged-{number + 2}"))
        fetches_within_floor = jwks.fetches
        clock.advance(1)
        await refusal(verifier, mint(key=other_key, kid="forged-late"))

        assert fetches_within_floor == 2
        assert jwks.fetches == 3

    async def test_a_new_key_is_picked_up_without_a_restart(
        self,
        verifier: TokenVerifier,
        mint: Mint,
        jwks: JwksEndpoint,
        rotated: RotatedKey,
        clock: Clock,
    ) -> None:
        await verifier.verify(mint())
        jwks.keys.append(rotated.jwk)
        clock.advance(10)

        principal = await verifier.verify(rotated.mint(sub="rotated"))

        assert principal.subject == "rotated"
        assert jwks.fetches == 2

    async def test_a_new_key_waits_for_the_refresh_floor(
        self,
        verifier: TokenVerifier,
        mint: Mint,
        jwks: JwksEndpoint,
        rotated: RotatedKey,
        clock: Clock,
    ) -> None:
        await verifier.verify(mint())
        jwks.keys.append(rotated.jwk)
        clock.advance(3)

        await refusal(verifier, rotated.mint())
        clock.advance(7)
        principal = await verifier.verify(rotated.mint())

        assert principal.token_id
        assert jwks.fetches == 2

    async def test_keys_are_refetched_when_they_age_out(
        self, make_verifier: VerifierFactory, mint: Mint, jwks: JwksEndpoint, clock: Clock
    ) -> None:
        verifier = make_verifier(cache_seconds=60)
        await verifier.verify(mint())

        clock.advance(59)
        await verifier.verify(mint())
        fetches_before_expiry = jwks.fetches
        clock.advance(1)
        await verifier.verify(mint())

        assert (fetches_before_expiry, jwks.fetches) == (1, 2)

    async def test_concurrent_first_requests_share_one_fetch(
        self, verifier: TokenVerifier, mint: Mint, jwks: JwksEndpoint
    ) -> None:
        tokens = [mint() for _ in range(10)]

        principals = await asyncio.gather(*(verifier.verify(t) for t in tokens))

        assert len(principals) == 10
        assert jwks.fetches == 1

    async def test_a_withdrawn_key_stops_verifying_even_cached_tokens(
        self,
        make_verifier: VerifierFactory,
        mint: Mint,
        jwks: JwksEndpoint,
        rotated: RotatedKey,
        clock: Clock,
    ) -> None:
        verifier = make_verifier(cache_seconds=60)
        old_token = mint()
        await verifier.verify(old_token)

        jwks.keys = [rotated.jwk]
        clock.advance(60)
        await verifier.verify(rotated.mint())

        error = await refusal(verifier, old_token)
        assert error.detail == "The access token was signed by an unknown key."


class TestVerifiedTokenCache:
    async def test_a_repeated_token_is_answered_from_the_cache(
        self, verifier: TokenVerifier, mint: Mint
    ) -> None:
        token = mint()

        first = await verifier.verify(token)
        second = await verifier.verify(token)

        # A decoded token makes a new Principal; only the cache returns the same object.
        assert second is first

    async def test_no_cache_when_its_size_is_zero(
        self, make_verifier: VerifierFactory, mint: Mint
    ) -> None:
        verifier = make_verifier(token_cache_size=0)
        token = mint()

        first = await verifier.verify(token)
        second = await verifier.verify(token)

        assert second == first
        assert second is not first

    async def test_the_least_recently_used_token_is_evicted(
        self, make_verifier: VerifierFactory, mint: Mint
    ) -> None:
        verifier = make_verifier(token_cache_size=2)
        a, b, c = mint(), mint(), mint()
        principal_a = await verifier.verify(a)
        principal_b = await verifier.verify(b)
        await verifier.verify(a)  # a is now the most recently used

        await verifier.verify(c)

        assert await verifier.verify(a) is principal_a
        assert await verifier.verify(b) is not principal_b

    async def test_a_cached_token_is_refused_once_it_expires(
        self, verifier: TokenVerifier, mint: Mint, clock: Clock
    ) -> None:
        token = mint(exp=int(clock.now) + 60)
        await verifier.verify(token)

        clock.advance(60 + 5 + 1)

        with pytest.raises(TokenExpired) as caught:
            await verifier.verify(token)
        assert caught.value.code == "token_expired"

    async def test_a_cached_token_is_accepted_within_the_leeway(
        self, verifier: TokenVerifier, mint: Mint, clock: Clock
    ) -> None:
        token = mint(exp=int(clock.now) + 60)
        first = await verifier.verify(token)

        clock.advance(60 + 4)

        assert await verifier.verify(token) is first


class TestJwksOutage:
    async def test_unreachable_at_first_use_is_503_jwks_unavailable(
        self, make_verifier: VerifierFactory, http: httpx.AsyncClient, mint: Mint
    ) -> None:
        closed = http_jwks_source(f"http://127.0.0.1:{free_port()}/jwks.json", http)
        verifier = make_verifier(source=closed)

        with pytest.raises(JwksUnavailable) as caught:
            await verifier.verify(mint())

        assert (caught.value.status_code, caught.value.code) == (503, "jwks_unavailable")

    async def test_while_unreachable_with_no_keys_the_floor_spares_the_jwks(
        self, make_verifier: VerifierFactory, http: httpx.AsyncClient, mint: Mint, clock: Clock
    ) -> None:
        attempts = 0
        closed = http_jwks_source(f"http://127.0.0.1:{free_port()}/jwks.json", http)

        async def counted() -> Mapping[str, Any]:
            nonlocal attempts
            attempts += 1
            return await closed()

        verifier = make_verifier(source=counted, min_refresh_interval=10)
        for _ in range(3):
            with pytest.raises(JwksUnavailable):
                await verifier.verify(mint())
        assert attempts == 1
        clock.advance(10)
        with pytest.raises(JwksUnavailable):
            await verifier.verify(mint())
        assert attempts == 2

    @pytest.mark.parametrize(("status", "body"), [(500, None), (200, ["not", "an", "object"])])
    async def test_an_unusable_answer_at_first_use_is_503_jwks_unavailable(
        self,
        verifier: TokenVerifier,
        mint: Mint,
        jwks: JwksEndpoint,
        status: int,
        body: Any,
    ) -> None:
        jwks.status, jwks.body = status, body

        with pytest.raises(JwksUnavailable):
            await verifier.verify(mint())

    async def test_an_empty_jwks_refuses_every_token_as_signed_by_an_unknown_key(
        self, verifier: TokenVerifier, mint: Mint, jwks: JwksEndpoint
    ) -> None:
        jwks.keys = []

        error = await refusal(verifier, mint())

        assert (error.code, error.detail) == (
            "invalid_token",
            "The access token was signed by an unknown key.",
        )

    async def test_unreachable_later_keeps_the_cached_keys_working(
        self,
        mint: Mint,
        jwks_document: dict[str, Any],
        make_verifier: VerifierFactory,
        clock: Clock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        endpoint = JwksEndpoint()
        endpoint.keys = list(jwks_document["keys"])
        attempts = 0

        async with serve_app(endpoint.app) as base_url, httpx.AsyncClient() as http:
            fetch = http_jwks_source(f"{base_url}/.well-known/jwks.json", http)

            async def counted() -> Mapping[str, Any]:
                nonlocal attempts
                attempts += 1
                return await fetch()

            verifier = make_verifier(source=counted, cache_seconds=60, min_refresh_interval=10)
            await verifier.verify(mint())
        # The JWKS server is gone now.
        clock.advance(61)

        principal = await verifier.verify(mint(sub="after-outage"))
        attempts_after_failure = attempts
        clock.advance(5)
        await verifier.verify(mint())
        attempts_within_floor = attempts
        clock.advance(5)
        await verifier.verify(mint())

        assert principal.subject == "after-outage"
        assert (attempts_after_failure, attempts_within_floor, attempts) == (2, 2, 3)
        assert "JWKS refresh failed, keeping cached keys" in caplog.text


class TestParseJwks:
    def test_rsa_signing_keys_are_indexed_by_kid(
        self, signing_key: RSAPrivateKey, other_key: RSAPrivateKey, jwk_of: JwkOf
    ) -> None:
        keys = parse_jwks({"keys": [jwk_of(signing_key, "a"), jwk_of(other_key, "b")]})

        assert set(keys) == {"a", "b"}
        assert keys["a"].public_numbers() == signing_key.public_key().public_numbers()

    def test_use_and_alg_may_be_omitted(self, signing_key: RSAPrivateKey, jwk_of: JwkOf) -> None:
        entry = jwk_of(signing_key, "a")
        del entry["use"], entry["alg"]

        assert set(parse_jwks({"keys": [entry]})) == {"a"}

    def test_unsuitable_entries_are_ignored(
        self, signing_key: RSAPrivateKey, jwk_of: JwkOf, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="common.security.jwks")
        ec_key = ECAlgorithm.to_jwk(
            ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True
        )
        weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the weak key must be refused)
        good = jwk_of(signing_key, "good")
        entries: list[Any] = [
            good,
            {**ec_key, "kid": "ec"},
            {**good, "kid": "encryption", "use": "enc"},
            {**good, "kid": "rs512", "alg": "RS512"},
            {k: v for k, v in good.items() if k != "kid"},
            {**good, "kid": 7},
            jwk_of(weak, "weak"),
            {**good, "kid": "broken", "n": "!!!"},
            "not an object",
        ]

        assert set(parse_jwks({"keys": entries})) == {"good"}
        assert "ignoring a JWKS entry that does not parse (kid=broken)" in caplog.text

    def test_a_document_without_keys_has_none(self) -> None:
        assert parse_jwks({}) == {}


class TestHttpJwksSource:
    async def test_fetches_the_document(self, jwks: JwksEndpoint, http: httpx.AsyncClient) -> None:
        document = await http_jwks_source(jwks.url, http)()

        assert document == {"keys": jwks.keys}
        assert jwks.fetches == 1

    async def test_an_error_status_raises(
        self, jwks: JwksEndpoint, http: httpx.AsyncClient
    ) -> None:
        jwks.status = 503

        with pytest.raises(httpx.HTTPStatusError):
            await http_jwks_source(jwks.url, http)()

    async def test_a_document_that_is_not_an_object_raises(
        self, jwks: JwksEndpoint, http: httpx.AsyncClient
    ) -> None:
        jwks.body = [1, 2]

        with pytest.raises(ValueError, match="not a JSON object"):
            await http_jwks_source(jwks.url, http)()
