"""The async DNS resolver every RongMail component uses (SMTP, queue, mailauth, ops).

Role: answer typed questions (MX with RFC 7505 null MX and RFC 5321 §5.1 implicit MX, A/AAAA,
TXT, PTR, TLSA) through one :class:`DnsTransport`, with a shared TTL cache and coalescing of
identical questions in flight, so a burst of mail from one domain costs one query.

Invariants:

* Only the event loop thread calls this object (blocking code such as pyspf reaches it through
  the bridge in ``services/mailauth/spf.py``).
* Temporary failures are raised (:class:`DnsTemporaryError`) and never cached; NXDOMAIN and
  NODATA are cached for their negative TTL (RFC 2308 §5).
* All names are handled as lower-case A-labels without the trailing dot.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import random
from collections.abc import Sequence
from typing import Protocol

from rongmail.services.dns.cache import CacheKey, TtlCache
from rongmail.services.dns.errors import DnsNameError
from rongmail.services.dns.transport import DnspythonTransport
from rongmail.services.dns.types import Answer, DnsTransport, MxRecord, MxResult, TlsaRecord


class DnsConfig(Protocol):
    """The fields of ``config.queue.DnsSettings`` this module reads (no config import here)."""

    @property
    def nameservers(self) -> Sequence[str]: ...
    @property
    def port(self) -> int: ...
    @property
    def timeout(self) -> float: ...
    @property
    def cache_size(self) -> int: ...
    @property
    def max_ttl(self) -> int: ...


def normalize_name(name: str) -> str:
    """Lower-case A-label without trailing dot; raise :class:`DnsNameError` if unusable."""
    n = name.strip().rstrip(".").lower()
    if not n.isascii():
        try:
            n = n.encode("idna").decode("ascii")
        except UnicodeError as e:
            raise DnsNameError(domain=name, detail=str(e)) from e
    if not n or len(n) > 253 or any(not 0 < len(label) < 64 for label in n.split(".")):
        raise DnsNameError(domain=name)
    return n


def reverse_name(ip: str) -> str:
    """``192.0.2.1`` -> ``1.2.0.192.in-addr.arpa`` (RFC 1035 §3.5, RFC 3596 §2.5)."""
    return ipaddress.ip_address(ip).reverse_pointer


def txt_text(record: tuple[bytes, ...]) -> str:
    """Join the character-strings of one TXT record (RFC 7208 §3.3, RFC 6376 §3.6.2.2)."""
    return b"".join(record).decode("utf-8", "replace")


class DnsResolver:
    def __init__(self, transport: DnsTransport, *, cache: TtlCache | None = None) -> None:
        self.transport = transport
        self.cache = cache if cache is not None else TtlCache()
        self._inflight: dict[CacheKey, asyncio.Future[Answer]] = {}

    @classmethod
    def from_settings(
        cls,
        nameservers: Sequence[str] = (),
        *,
        port: int = 53,
        timeout: float = 5.0,
        cache_size: int = 10_000,
        min_ttl: int = 0,
        max_ttl: int = 86_400,
    ) -> DnsResolver:
        """Build the production resolver (``app.py`` calls this with ``settings.queue.dns``)."""
        transport = DnspythonTransport(nameservers, port=port, timeout=timeout)
        return cls(
            transport, cache=TtlCache(max_entries=cache_size, min_ttl=min_ttl, max_ttl=max_ttl)
        )

    @classmethod
    def from_config(cls, cfg: DnsConfig) -> DnsResolver:
        """Build from ``settings.queue.dns`` (:class:`rongmail.config.queue.DnsSettings`)."""
        return cls.from_settings(
            cfg.nameservers, port=cfg.port, timeout=cfg.timeout, cache_size=cfg.cache_size,
            max_ttl=cfg.max_ttl,
        )  # fmt: skip

    async def query(self, name: str, rdtype: str) -> Answer:
        """One question, served from the cache when fresh; identical questions share one
        lookup task, which a caller's cancellation does not cancel."""
        key = (normalize_name(name), rdtype.upper())
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch(key))
            self._inflight[key] = task
            task.add_done_callback(functools.partial(self._done, key))
        return await asyncio.shield(task)

    def fresh_for(self, name: str, rdtype: str) -> float | None:
        """Seconds the cached answer to ``(name, rdtype)`` stays fresh (its TTL minus its age),
        or None when nothing is cached (e.g. a zero TTL)."""
        try:
            key = (normalize_name(name), rdtype.upper())
        except DnsNameError:
            return None
        return self.cache.remaining(key)

    async def _fetch(self, key: CacheKey) -> Answer:
        answer = await self.transport.query(*key)
        self.cache.put(key, answer)
        return answer

    def _done(self, key: CacheKey, task: asyncio.Future[Answer]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter gets it; none must warn at GC

    async def txt(self, name: str) -> list[str]:
        answer = await self.query(name, "TXT")
        return [txt_text(r) for r in answer.records if isinstance(r, tuple)]

    async def addresses(self, host: str, *, ipv4: bool = True, ipv6: bool = True) -> list[str]:
        """A and AAAA of ``host`` (IPv6 first, as RFC 6724 prefers it by default).

        A temporary failure of one family is tolerated when the other answers.
        """
        kinds = [k for k, on in (("AAAA", ipv6), ("A", ipv4)) if on]
        results = await asyncio.gather(
            *(self.query(host, k) for k in kinds), return_exceptions=True
        )
        out: list[str] = []
        errors: list[BaseException] = []
        for r in results:
            if isinstance(r, BaseException):
                errors.append(r)
            else:
                out.extend(str(x) for x in r.records)
        if not out and errors:
            raise errors[0]
        return out

    async def ptr(self, ip: str) -> list[str]:
        answer = await self.query(reverse_name(ip), "PTR")
        return [str(r) for r in answer.records]

    async def tlsa(self, host: str, port: int = 25, proto: str = "tcp") -> Answer:
        """The TLSA RRset of ``_port._proto.host`` (RFC 6698 §3, RFC 7672 §2.2.3)."""
        return await self.query(f"_{port}._{proto}.{host}", "TLSA")

    async def tlsa_records(self, host: str, port: int = 25) -> tuple[list[TlsaRecord], bool]:
        answer = await self.tlsa(host, port)
        return [r for r in answer.records if isinstance(r, TlsaRecord)], answer.secure

    async def mx(self, domain: str) -> MxResult:
        """Resolve where mail for ``domain`` goes (RFC 5321 §5.1, RFC 7505).

        * MX RRset present: exchanges by ascending preference, equal preferences shuffled
          (RFC 5321 §5.1 "SHOULD randomize"). A single ``0 .`` record is a null MX: the
          domain accepts no mail (RFC 7505 §3). A ``.`` mixed with real exchanges violates
          RFC 7505 §3 and is skipped, the real exchanges used.
        * NODATA: the domain itself is the implicit MX if it has an address record.
        * NXDOMAIN: no such domain.
        """
        d = normalize_name(domain)
        try:
            literal = ipaddress.ip_address(d.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            return MxResult(d, (str(literal),), implicit=True)
        answer = await self.query(d, "MX")
        if answer.nxdomain:
            return MxResult(d, (), nxdomain=True, secure=answer.secure)
        mxs = [r for r in answer.records if isinstance(r, MxRecord)]
        if mxs:
            if all(m.exchange == "" for m in mxs):
                return MxResult(d, (), null_mx=True, secure=answer.secure)
            by_pref: dict[int, list[str]] = {}
            for m in mxs:
                if m.exchange:
                    by_pref.setdefault(m.preference, []).append(m.exchange)
            hosts: list[str] = []
            for pref in sorted(by_pref):
                group = by_pref[pref]
                random.shuffle(group)
                hosts.extend(h for h in group if h not in hosts)
            return MxResult(d, tuple(hosts), secure=answer.secure)
        # RFC 5321 §5.1: no MX records -> the domain is its own exchange, if it has addresses.
        addrs = await self.addresses(d)
        if not addrs:
            return MxResult(d, (), nxdomain=True, secure=answer.secure)
        return MxResult(d, (d,), implicit=True, secure=answer.secure)
