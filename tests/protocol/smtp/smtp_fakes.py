"""In-memory ports for SMTP tests: a directory, an authenticator and a delivery that records."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rongmail.config.smtp import SmtpSettings
from rongmail.errors import AuthError, TemporaryError
from rongmail.pipeline.envelope import (
    AuthIdentity,
    Client,
    Envelope,
    Listener,
    RecipientKind,
    Resolution,
)
from rongmail.pipeline.runner import Runner
from rongmail.pipeline.stage import Verdict
from rongmail.pipeline.stages import default_stages
from rongmail.protocols.smtp.session import Session, SmtpServices

if TYPE_CHECKING:
    from rongmail.protocols.smtp.server import SmtpServer

#: The ``smtp_server`` fixture: ``await start(**settings) -> (server, delivery)``.
Starter = Callable[..., Awaitable[tuple["SmtpServer", "MemoryDelivery"]]]

ALICE = AuthIdentity(account_id=1, tenant_id=1, address="alice@example.com", username="alice")


class FakeDirectory:
    """example.com and example.org are local; alice(1), bob(2); sales@ -> group {1, 2};
    catch-all on example.org -> bob."""

    domains = {"example.com", "example.org"}
    accounts = {"alice@example.com": 1, "bob@example.com": 2, "postmaster@example.com": 1}
    groups = {"sales@example.com": (1, 2)}
    disabled = {"gone@example.com"}
    catch_all = {"example.org": 2}
    owned = {1: {"alice@example.com", "sales@example.com"}, 2: {"bob@example.com"}}

    async def resolve(self, address: str) -> Resolution:
        if address.lower() == "postmaster":
            address = "postmaster@example.com"
        local, _, domain = address.rpartition("@")
        domain = domain.lower()
        if domain not in self.domains:
            return Resolution(RecipientKind.REMOTE)
        for candidate in (f"{local.lower()}@{domain}", f"{local.lower().split('+')[0]}@{domain}"):
            if candidate in self.disabled:
                return Resolution(RecipientKind.DISABLED)
            if candidate in self.accounts:
                return Resolution(RecipientKind.LOCAL, (self.accounts[candidate],), candidate)
            if candidate in self.groups:
                return Resolution(RecipientKind.LOCAL, self.groups[candidate], candidate)
        if domain in self.catch_all:
            return Resolution(RecipientKind.LOCAL, (self.catch_all[domain],), address)
        return Resolution(RecipientKind.UNKNOWN)

    async def may_send_as(self, identity: AuthIdentity, address: str) -> bool:
        return address.lower() in self.owned.get(identity.account_id, set())


class FakeAuthenticator:
    users = {"alice": ("s3cret", ALICE)}

    def __init__(self) -> None:
        self.attempts: list[str] = []

    async def authenticate(
        self, username: str, password: str, *, authzid: str, remote_ip: str
    ) -> AuthIdentity:
        self.attempts.append(username)
        if username == "broken":
            raise TemporaryError()
        entry = self.users.get(username)
        if entry is None or entry[0] != password:
            raise AuthError()
        return entry[1]


@dataclass
class MemoryDelivery:
    delivered: list[tuple[Envelope, Verdict]] = field(default_factory=list)
    gate: asyncio.Event | None = None  # when set, deliver() waits for it (durability tests)
    fail: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def deliver(self, env: Envelope, verdict: Verdict) -> str:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise TemporaryError()
        self.delivered.append((env, verdict))
        return f"Q{next(self._ids)}"

    @property
    def messages(self) -> list[bytes]:
        return [env.message or b"" for env, _ in self.delivered]


def make_services(
    settings: SmtpSettings,
    delivery: MemoryDelivery | None = None,
    *,
    hostname: str = "mx.example.com",
) -> tuple[SmtpServices, MemoryDelivery]:
    directory = FakeDirectory()
    delivery = delivery or MemoryDelivery()
    runner = Runner(default_stages(settings, directory, hostname=hostname))
    return SmtpServices(runner, directory, delivery, FakeAuthenticator()), delivery


def make_session(
    *,
    listener: Listener = Listener.MX,
    tls: bool = False,
    tls_available: bool = True,
    ip: str = "192.0.2.10",
    **overrides: object,
) -> tuple[Session, MemoryDelivery]:
    settings = SmtpSettings(auth_failure_delay=0, **overrides)  # type: ignore[arg-type]
    services, delivery = make_services(settings)
    client = Client(
        ip=ip, port=40000, listener=listener, tls=tls, tls_version="TLSv1.3" if tls else None
    )
    session = Session(
        settings=settings,
        services=services,
        client=client,
        hostname="mx.example.com",
        tls_available=tls_available,
        session_id="TEST",
    )
    return session, delivery


def codes_of(data: bytes) -> list[str]:
    """Final-line reply codes with enhanced status: ``["250 2.1.0", "354", ...]``."""
    out = []
    for line in data.decode().split("\r\n"):
        if len(line) >= 4 and line[3] == " ":
            parts = line.split(" ")
            status = (
                parts[1] if len(parts) > 1 and parts[1][:1] in "245" and "." in parts[1] else ""
            )
            out.append(f"{parts[0]} {status}".strip())
    return out
