"""Fixtures for SMTP wire tests: a self-signed certificate and a running server on loopback."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from smtp_fakes import MemoryDelivery, Starter, make_services

from rongmail.config.smtp import SmtpSettings
from rongmail.protocols.smtp.server import SmtpServer, start_smtp, tls_context


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("mx.example.com")]), False)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
def client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
async def smtp_server(cert_files: tuple[Path, Path]) -> AsyncIterator[Starter]:
    started: list[SmtpServer] = []

    async def start(**overrides: Any) -> tuple[SmtpServer, MemoryDelivery]:
        settings = SmtpSettings(auth_failure_delay=0, **overrides)
        services, delivery = make_services(settings)
        server = await start_smtp(
            settings=settings,
            services=services,
            hostname="mx.example.com",
            listeners={
                "smtp": ("127.0.0.1", 0),
                "submission": ("127.0.0.1", 0),
                "submissions": ("127.0.0.1", 0),
                "imap": ("127.0.0.1", 0),  # not ours: ignored
            },
            tls=tls_context(str(cert_files[0]), str(cert_files[1])),
        )
        started.append(server)
        return server, delivery

    yield start
    for server in started:
        await server.aclose(grace=1)
