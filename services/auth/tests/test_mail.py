"""Mail delivery over SMTP: TLS, when asked for, is TLS that checks whom it talks to. Reset links
are account takeovers in waiting; an unverified certificate hands them to whoever sits between
the service and its mail server."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from auth_service.mail import password_reset_message, send
from auth_service.settings import AuthSettings
from common.testing import free_port


class Recorder:
    def __init__(self) -> None:
        self.delivered = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.delivered += 1
        return "250 OK"


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 that no authority signed; the
    certificate is left in `directory / "cert.pem"` for a test that chooses to trust it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
def implicit_tls_server(tmp_path: Path) -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, ssl_context=self_signed_context(tmp_path)
    )
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


def smtp_ssl_settings(port: int) -> AuthSettings:
    return AuthSettings(
        _env_file=None,
        environment="test",
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_ssl=True,
    )


def reset_message(settings: AuthSettings) -> Any:
    return password_reset_message(
        settings, to="ada@example.com", link="https://app.example.com/reset?token=t"
    )


class TestSmtpSsl:
    def test_refuses_a_certificate_no_authority_signed(
        self, implicit_tls_server: tuple[Recorder, int]
    ) -> None:
        recorder, port = implicit_tls_server
        settings = smtp_ssl_settings(port)

        with pytest.raises(ssl.SSLCertVerificationError):
            send(settings, reset_message(settings))

        assert recorder.delivered == 0

    def test_delivers_to_a_server_whose_certificate_is_trusted(
        self,
        implicit_tls_server: tuple[Recorder, int],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        recorder, port = implicit_tls_server
        # The system's trust store, as OpenSSL reads it, holding only this certificate.
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        settings = smtp_ssl_settings(port)

        send(settings, reset_message(settings))

        assert recorder.delivered == 1
