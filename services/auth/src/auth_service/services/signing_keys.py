"""Signing-key life cycle: create, encrypt at rest, rotate, publish.

The active key signs; rotation retires it and creates a new one in one transaction. A retired
key stays in the JWKS for one access-token lifetime (plus leeway) after it retired, so every
token it signed keeps verifying until it expires, then it drops out of the JWKS.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import os
import time
from datetime import timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.algorithms import RSAAlgorithm
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth_service.audit import Action, recorder
from auth_service.crud import ActiveKeyReads, SigningKeyRepository
from auth_service.models import KeyState, SigningKey
from auth_service.settings import AuthSettings
from common.audit import SYSTEM, Resource
from common.db import utcnow
from common.errors import ServiceUnavailable


class SigningKeyUnavailable(ServiceUnavailable):
    code = "signing_key_unavailable"
    message = "No usable signing key; an operator must run rotate-signing-key."


class KeyCipher:
    """AES-256-GCM with a key derived from SECRET_KEY by HKDF; the kid is authenticated data,
    so a ciphertext cannot be moved to another row."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"auth-service/signing-key",
            info=b"signing-key-encryption/v1",
        ).derive(secret_key.encode())
        self._aead = AESGCM(derived)

    def encrypt(self, plaintext: bytes, *, kid: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, kid.encode())

    def decrypt(self, blob: bytes, *, kid: str) -> bytes:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], kid.encode())
        except InvalidTag as exc:
            raise SigningKeyUnavailable(
                "The signing key cannot be decrypted with the current SECRET_KEY."
            ) from exc


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The public JWK, its kid the RFC 7638 thumbprint (stable and derivable by anyone)."""
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(public_key))
    canonical = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    kid = _b64url(hashlib.sha256(canonical.encode()).digest())
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": jwk["n"], "e": jwk["e"]}


def new_signing_key(cipher: KeyCipher, bits: int) -> SigningKey:
    """A fresh RSA key, active, its private half encrypted with `cipher` (CPU-bound: run it in a
    thread)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    jwk = public_jwk(private_key.public_key())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    kid = jwk["kid"]
    return SigningKey(
        kid=kid,
        algorithm="RS256",
        public_jwk=jwk,
        private_key_encrypted=cipher.encrypt(pem, kid=kid),
        state=KeyState.ACTIVE,
    )


class SigningKeyService:
    def __init__(self, session: AsyncSession, *, settings: AuthSettings) -> None:
        self.session = session
        self.keys = SigningKeyRepository(session)
        self.cipher = KeyCipher(settings.secret_key.get_secret_value())
        self.bits = settings.signing_key_bits
        # A replica may sign with a just-retired key for up to SIGNING_KEY_RECHECK_SECONDS
        # (see ActiveSigningKey); its tokens must verify until they expire, so the JWKS keeps
        # retired keys that much longer.
        self.retention = timedelta(
            seconds=settings.access_token_ttl_seconds
            + settings.jwt_leeway_seconds
            + settings.signing_key_recheck_seconds
        )

    async def ensure_active(self) -> str:
        """Create the first key if there is none. Safe with several replicas starting at once."""
        await self.keys.lock_for_rotation()
        active = await self.keys.get_active()
        if active is None:
            active = self.keys.add(await asyncio.to_thread(new_signing_key, self.cipher, self.bits))
        kid = active.kid
        await self.session.commit()
        return kid

    async def rotate(self) -> tuple[SigningKey, SigningKey | None]:
        """Retire the active key and make a new one active; returns (new, retired)."""
        await self.keys.lock_for_rotation()
        new_key = await asyncio.to_thread(new_signing_key, self.cipher, self.bits)
        retired = await self.keys.get_active(for_update=True)
        if retired is not None:
            # Flushed first: the one-active slot must be free before the new key takes it.
            await self.keys.update(retired, {"state": KeyState.RETIRED, "retired_at": utcnow()})
        self.keys.add(new_key)
        recorder.record(
            self.session,
            action=Action.SIGNING_KEY_ROTATED,
            actor=SYSTEM,
            resource=Resource(type="signing_key", id=new_key.kid),
            metadata={"retired_kid": retired.kid if retired is not None else None},
        )
        await self.session.commit()
        return new_key, retired

    async def jwks(self) -> dict[str, Any]:
        keys = await self.keys.published(retired_after=utcnow() - self.retention)
        return {"keys": [key.public_jwk for key in keys]}


class ActiveSigningKey:
    """The key that signs, as one process sees it. Decrypted once per kid; which kid is active
    is asked again at most every SIGNING_KEY_RECHECK_SECONDS, so a rotation by another process
    is followed within that time without a query per token."""

    def __init__(self, settings: AuthSettings, engine: AsyncEngine) -> None:
        self.cipher = KeyCipher(settings.secret_key.get_secret_value())
        self.reads = ActiveKeyReads(engine)
        self.recheck_seconds = settings.signing_key_recheck_seconds
        self._current: tuple[str, rsa.RSAPrivateKey] | None = None
        self._checked_at = -math.inf
        self._recheck = asyncio.Lock()

    async def get(self) -> tuple[str, rsa.RSAPrivateKey]:
        current = self._fresh()
        if current is not None:
            return current
        # One recheck at a time: a burst of requests does one query, not one each (every one
        # of them taking a pooled connection).
        async with self._recheck:
            return self._fresh() or await self._reload()

    def _fresh(self) -> tuple[str, rsa.RSAPrivateKey] | None:
        recent = time.monotonic() - self._checked_at < self.recheck_seconds
        return self._current if recent else None

    async def _reload(self) -> tuple[str, rsa.RSAPrivateKey]:
        now = time.monotonic()
        kid = await self.reads.active_kid()
        self._checked_at = now
        if kid is None:
            raise SigningKeyUnavailable
        if self._current is not None and self._current[0] == kid:
            return self._current
        encrypted = await self.reads.encrypted_private_key(kid)
        if encrypted is None:
            raise SigningKeyUnavailable
        private_key = serialization.load_pem_private_key(
            self.cipher.decrypt(encrypted, kid=kid), password=None
        )
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise SigningKeyUnavailable
        self._current = (kid, private_key)
        return self._current
