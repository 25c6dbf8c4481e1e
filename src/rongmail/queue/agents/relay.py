"""Delivery through a smart host (a configured route), with AUTH and a per-route source IP.

Used for the "overseas acceleration" relay and for any domain or recipient pattern an operator
routes (``[[queue.routes]]``). TLS follows the route: ``starttls`` and ``implicit`` verify the
relay's certificate against its host name (credentials never travel over an unverified
channel), ``opportunistic`` and ``none`` are for relays on a trusted network.
"""

from __future__ import annotations

import fnmatch
import ipaddress

from rongmail.config.queue import QueueSettings, RouteSettings
from rongmail.queue.agents.base import DeliveryJob, Outcome, all_outcomes
from rongmail.queue.agents.smtp_client import HostFailure, HostTarget, TlsMode, send_to_host
from rongmail.queue.agents.smtp_remote import envelope_of
from rongmail.services.dns import DnsNameError, DnsResolver, DnsTemporaryError

_TLS = {
    "starttls": TlsMode.VERIFY,
    "implicit": TlsMode.VERIFY,
    "opportunistic": TlsMode.OPPORTUNISTIC,
    "none": TlsMode.NONE,
}


def route_matches(route: RouteSettings, rcpt: str) -> bool:
    """``*`` matches all; ``example.com`` and ``*.example.com`` match domains; a pattern with
    ``@`` matches the whole address (shell-style, case-insensitive)."""
    address = rcpt.lower()
    domain = address.rpartition("@")[2]
    for pattern in route.match:
        p = pattern.lower()
        if p == "*":
            return True
        if "@" in p:
            if fnmatch.fnmatchcase(address, p):
                return True
        elif p.startswith("*."):
            if domain.endswith(p[1:]):
                return True
        elif domain == p:
            return True
    return False


def find_route(routes: tuple[RouteSettings, ...], rcpt: str) -> RouteSettings | None:
    """First matching route (configuration order), or ``None`` for direct MX delivery."""
    for route in routes:
        if route_matches(route, rcpt):
            return route
    return None


class RelayAgent:
    def __init__(
        self, resolver: DnsResolver, route: RouteSettings, settings: QueueSettings, *, helo: str
    ) -> None:
        self.resolver = resolver
        self.route = route
        self.settings = settings
        self.helo = helo

    async def _addresses(self) -> list[str]:
        try:
            return [str(ipaddress.ip_address(self.route.host))]
        except ValueError:
            return await self.resolver.addresses(self.route.host)

    async def deliver(self, job: DeliveryJob) -> list[Outcome]:
        route = self.route
        try:
            addresses = await self._addresses()
        except (DnsTemporaryError, DnsNameError) as e:
            return all_outcomes(job, "deferred", "4.4.3", f"relay {route.name}: {e.detail}")
        if not addresses:
            return all_outcomes(job, "deferred", "4.4.4", f"relay {route.name} has no address")
        envelope = envelope_of(job)
        last = HostFailure(f"relay {route.name} unreachable")
        for address in addresses[:2]:
            target = HostTarget(
                route.host, address, route.port, _TLS[route.tls],
                implicit_tls=route.tls == "implicit", username=route.username,
                password=route.password.get_secret_value(), source_ip=route.source_ip,
            )  # fmt: skip
            try:
                return await send_to_host(
                    target, envelope, helo=self.helo,
                    connect_timeout=self.settings.connect_timeout,
                    command_timeout=self.settings.command_timeout,
                    ca_file=self.settings.tls_ca_file,
                )  # fmt: skip
            except HostFailure as e:
                last = e
        return all_outcomes(job, "deferred", last.status, f"relay {route.name}: {last.reply}",
                            code=last.code)  # fmt: skip
