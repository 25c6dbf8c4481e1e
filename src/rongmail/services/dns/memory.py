"""An in-memory DNS transport: a zone held in a dict.

Role: the DNS of unit tests, of the offline test vectors (OpenSPF YAML ``zonedata``, DKIM key
records) and of tools that need a fixed view (the DNS wizard preview). It is a real adapter of
:class:`~rongmail.services.dns.types.DnsTransport`, not a test branch in product code.

Semantics mirror an authoritative answer: CNAMEs are followed (up to 8 links, a loop answers
no data); a name that owns
no record of any type is NXDOMAIN, one that owns others is NODATA; names registered with
:meth:`MemoryTransport.add_timeout` raise :class:`DnsTemporaryError` (SPF ``TIMEOUT`` in the
OpenSPF suite); names under a ``secure_zones`` suffix answer with the AD bit set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from rongmail.services.dns.errors import DnsTemporaryError
from rongmail.services.dns.types import Answer, MxRecord, Rcode, Rdata, TlsaRecord

_MAX_CNAME = 8


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def coerce_rdata(rdtype: str, value: object) -> Rdata:
    """Accept convenient spellings: ``"v=spf1 -all"`` or ``["part1", "part2"]`` for TXT,
    ``(10, "mx.example.com")`` for MX, ``(3, 1, 1, bytes)`` for TLSA."""
    if rdtype in ("TXT", "SPF"):
        if isinstance(value, (str, bytes)):
            value = [value]
        items = cast(Iterable["str | bytes"], value)
        parts = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in items]
        return tuple(parts)
    if rdtype == "MX":
        if isinstance(value, MxRecord):
            return MxRecord(value.preference, _norm(value.exchange))
        pref, host = cast(tuple[int, str], value)
        return MxRecord(int(pref), _norm(str(host)))
    if rdtype == "TLSA":
        if isinstance(value, TlsaRecord):
            return value
        u, s, m, data = cast(tuple[int, int, int, "str | bytes"], value)
        return TlsaRecord(
            int(u), int(s), int(m), bytes.fromhex(data) if isinstance(data, str) else bytes(data)
        )
    if rdtype in ("PTR", "CNAME"):
        return _norm(str(value))
    return str(value)


class MemoryTransport:
    def __init__(self, *, ttl: int = 300, secure_zones: Iterable[str] = ()) -> None:
        self._rr: dict[tuple[str, str], list[Rdata]] = {}
        self._names: set[str] = set()
        self._timeouts: set[tuple[str, str | None]] = set()
        self._secure = tuple(_norm(z) for z in secure_zones)
        self.ttl = ttl
        #: Every question asked, in order (tests assert on caching and query counts).
        self.queries: list[tuple[str, str]] = []

    def add(self, name: str, rdtype: str, *values: object) -> MemoryTransport:
        n, t = _norm(name), rdtype.upper()
        self._names.add(n)
        rrs = self._rr.setdefault((n, t), [])
        rrs.extend(coerce_rdata(t, v) for v in values)
        return self

    def add_timeout(self, name: str, rdtype: str | None = None) -> MemoryTransport:
        """Questions for ``name`` (of ``rdtype``, or of any type) time out."""
        n = _norm(name)
        self._names.add(n)
        self._timeouts.add((n, rdtype.upper() if rdtype else None))
        return self

    def remove(self, name: str, rdtype: str) -> None:
        self._rr.pop((_norm(name), rdtype.upper()), None)

    def _is_secure(self, name: str) -> bool:
        return any(name == z or name.endswith("." + z) for z in self._secure)

    async def query(self, name: str, rdtype: str) -> Answer:
        n, t = _norm(name), rdtype.upper()
        self.queries.append((n, t))
        owner = n
        for _ in range(_MAX_CNAME):
            if (n, None) in self._timeouts or (n, t) in self._timeouts:
                raise DnsTemporaryError(detail=f"timeout {t} {n}")
            records = self._rr.get((n, t))
            if records:
                return Answer(owner, t, Rcode.NOERROR, tuple(records), self.ttl, self._is_secure(n))
            cname = self._rr.get((n, "CNAME")) if t != "CNAME" else None
            if cname:
                n = str(cname[0])
                continue
            rcode = Rcode.NOERROR if n in self._names else Rcode.NXDOMAIN
            return Answer(owner, t, rcode, (), self.ttl, self._is_secure(n))
        # A loop or an over-long chain: the stub sees no record of the asked type. (RFC 1034
        # §3.6.2 lets a resolver signal an error instead; RFC 7208 §5.5 step 7 then skips the
        # name anyway, which is what the OpenSPF suite checks.)
        return Answer(owner, t, Rcode.NOERROR, (), self.ttl, False)
