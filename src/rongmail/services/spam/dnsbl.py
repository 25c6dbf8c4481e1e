"""DNSBL and URIBL lookups through an injected async :class:`~.context.Resolver`.

* DNSBL (RFC 5782 §2.1): the client IPv4 address reversed (``4.3.2.1.zone``), IPv6 as reversed
  nibbles. Any A record in ``127.0.0.0/8`` means "listed"; ``127.255.255.x`` are the Spamhaus
  "query refused / error" codes and are ignored.
* URIBL (RFC 5782 §3): the registrable domain of each linked host, ``domain.zone``; at most
  :data:`MAX_URI_DOMAINS` distinct domains per message.

Zones are names or configured :class:`~.context.Blocklist` entries (own tag, weight and the
answer codes that count); each listing zone contributes its own tag, so two lists that agree
add up. All lookups of a message run concurrently under one time budget; a slow or failing
list simply does not contribute a tag.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from rongmail.mime.model import ParsedMessage

from . import urls as urlmod
from .context import Blocklist, ScanContext
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


def _listed(answers: list[str], codes: frozenset[str] = frozenset()) -> bool:
    for a in answers:
        try:
            ip = ipaddress.IPv4Address(a)
        except ValueError:
            continue
        if codes:
            if a in codes:
                return True
        elif ip in ipaddress.IPv4Network("127.0.0.0/8") and not a.startswith("127.255.255."):
            return True
    return False


def _blocklist(z: str | Blocklist, default_tag: str) -> Blocklist:
    if isinstance(z, str):
        return Blocklist(z, default_tag)
    return z if z.tag else Blocklist(z.zone, default_tag, z.score, z.codes)


async def dnsbl_tags(msg: ParsedMessage, ctx: ScanContext, *, budget: float = 3.0) -> list[Tag]:
    if ctx.resolver is None:
        return []
    resolver = ctx.resolver
    queries: list[tuple[Blocklist, str, str]] = []  # (list, detail, qname)
    if ctx.client_ip:
        for z in ctx.dnsbl_zones:
            bl = _blocklist(z, "RBL_LISTED")
            q = dnsbl_name(ctx.client_ip, bl.zone)
            if q:
                queries.append((bl, f"{ctx.client_ip} in {bl.zone}", q))
    if ctx.uribl_zones:
        domains: dict[str, None] = {}
        for u in urlmod.urls(msg.text_body, msg.html_body):
            host = urlmod.host_of(u)
            if host and not urlmod.is_ip(host) and host.isascii():
                domains.setdefault(urlmod.registrable(host), None)
            if len(domains) >= MAX_URI_DOMAINS:
                break
        for d in domains:
            for z in ctx.uribl_zones:
                bl = _blocklist(z, "URIBL_LISTED")
                queries.append((bl, f"{d} in {bl.zone}", f"{d}.{bl.zone}"))
    if not queries:
        return []

    async def one(q: str) -> list[str]:
        try:
            return await resolver.a(q)
        except Exception as e:  # noqa: BLE001 - a broken list must not break delivery
            log.info("DNSBL query %s failed: %s", q, e)
            return []

    tasks = [asyncio.ensure_future(one(q)) for _b, _d, q in queries]
    done, pending = await asyncio.wait(tasks, timeout=budget)
    for p in pending:
        p.cancel()
    out: list[Tag] = []
    seen: set[tuple[str, str]] = set()  # one tag per (tag, zone): the first listed item
    for (bl, detail, _q), task in zip(queries, tasks, strict=True):
        if task in done and not task.cancelled() and task.exception() is None:
            if _listed(task.result(), bl.codes) and (bl.tag, bl.zone) not in seen:
                out.append(tag(bl.tag, detail, bl.score))
                seen.add((bl.tag, bl.zone))
    return out


class DnsPythonResolver:
    """:class:`~.context.Resolver` over dnspython's async resolver (the production adapter).

    ``nameservers`` override the system resolver, e.g. a local unbound that forwards DNSBL
    zones: ``ip``, ``ip:port``, a bare IPv6 address or ``[ipv6]:port``
    (:func:`rongmail.config.spam.split_nameserver`), each with its own port (default 53).
    NXDOMAIN, no answer and timeouts all mean ``[]``.
    """

    def __init__(self, nameservers: list[str] | None = None, *, timeout: float = 2.0) -> None:
        import dns.asyncresolver
        import dns.nameserver

        from rongmail.config.spam import split_nameserver

        self._r = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            servers: list[str | dns.nameserver.Nameserver] = []
            for spec in nameservers:
                host, port = split_nameserver(spec)
                servers.append(dns.nameserver.Do53Nameserver(host, port or 53))
            self._r.nameservers = servers
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
