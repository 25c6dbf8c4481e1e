"""DNSBL and URIBL lookups through an injected async :class:`~.context.Resolver`.

* DNSBL (RFC 5782 §2.1): the client IPv4 address reversed (``4.3.2.1.zone``), IPv6 as reversed
  nibbles. Any A record in ``127.0.0.0/8`` means "listed"; ``127.255.255.x`` are the Spamhaus
  "query refused / error" codes and are ignored.
* URIBL (RFC 5782 §3): the registrable domain of each linked host, ``domain.zone``; at most
  :data:`MAX_URI_DOMAINS` distinct domains per message.

All lookups of a message run concurrently under one time budget; a slow or failing list simply
does not contribute a tag.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from rongmail.mime.model import ParsedMessage

from . import urls as urlmod
from .context import ScanContext
from .tags import Tag, tag

__all__ = ["DnsPythonResolver", "dnsbl_name", "dnsbl_tags"]

log = logging.getLogger(__name__)

MAX_URI_DOMAINS = 10


def dnsbl_name(ip: str, zone: str) -> str | None:
    """The query name for ``ip`` in ``zone``, or ``None`` for a non-global/invalid address."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv4Address):
        return ".".join(reversed(str(addr).split("."))) + "." + zone
    return ".".join(reversed(addr.exploded.replace(":", ""))) + "." + zone


def _listed(answers: list[str]) -> bool:
    for a in answers:
        try:
            ip = ipaddress.IPv4Address(a)
        except ValueError:
            continue
        if ip in ipaddress.IPv4Network("127.0.0.0/8") and not a.startswith("127.255.255."):
            return True
    return False


async def dnsbl_tags(msg: ParsedMessage, ctx: ScanContext, *, budget: float = 3.0) -> list[Tag]:
    if ctx.resolver is None:
        return []
    resolver = ctx.resolver
    queries: list[tuple[str, str, str]] = []  # (tag, detail, qname)
    if ctx.client_ip:
        for zone in ctx.dnsbl_zones:
            q = dnsbl_name(ctx.client_ip, zone)
            if q:
                queries.append(("RBL_LISTED", f"{ctx.client_ip} in {zone}", q))
    if ctx.uribl_zones:
        domains: dict[str, None] = {}
        for u in urlmod.urls(msg.text_body, msg.html_body):
            host = urlmod.host_of(u)
            if host and not urlmod.is_ip(host) and host.isascii():
                domains.setdefault(urlmod.registrable(host), None)
            if len(domains) >= MAX_URI_DOMAINS:
                break
        for d in domains:
            for zone in ctx.uribl_zones:
                queries.append(("URIBL_LISTED", f"{d} in {zone}", f"{d}.{zone}"))
    if not queries:
        return []

    async def one(q: str) -> list[str]:
        try:
            return await resolver.a(q)
        except Exception as e:  # noqa: BLE001 - a broken list must not break delivery
            log.info("DNSBL query %s failed: %s", q, e)
            return []

    tasks = [asyncio.ensure_future(one(q)) for _t, _d, q in queries]
    done, pending = await asyncio.wait(tasks, timeout=budget)
    for p in pending:
        p.cancel()
    out: list[Tag] = []
    seen: set[str] = set()
    for (name, detail, _q), task in zip(queries, tasks, strict=True):
        if task in done and not task.cancelled() and task.exception() is None:
            if _listed(task.result()) and name not in seen:
                out.append(tag(name, detail))
                seen.add(name)
    return out


class DnsPythonResolver:
    """:class:`~.context.Resolver` over dnspython's async resolver (the production adapter).

    ``nameservers`` (``"ip"`` or ``"ip:port"``) override the system resolver, e.g. a local
    unbound that forwards DNSBL zones; NXDOMAIN, no answer and timeouts all mean ``[]``.
    """

    def __init__(self, nameservers: list[str] | None = None, *, timeout: float = 2.0) -> None:
        import dns.asyncresolver

        self._r = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            self._r.nameservers = [ns.rpartition(":")[0] if ":" in ns else ns for ns in nameservers]
            port = {int(ns.rpartition(":")[2]) for ns in nameservers if ":" in ns}
            if port:
                self._r.port = port.pop()
        self._r.lifetime = timeout

    async def a(self, name: str) -> list[str]:
        import dns.exception
        import dns.resolver

        try:
            ans = await self._r.resolve(name, "A", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            return []
        except dns.exception.Timeout:
            log.info("DNSBL query %s timed out", name)
            return []
        return [r.address for r in ans]
