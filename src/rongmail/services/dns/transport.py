"""The network transport: dnspython's asyncio stub resolver.

Role: ask the configured recursive resolvers (a nameserver list and port, or the system's
``/etc/resolv.conf`` when none is given) one question and map the reply to :class:`Answer`.

Invariants:

* No dnspython cache and no search list: :class:`~rongmail.services.dns.resolver.DnsResolver`
  owns caching, and mail names are always absolute.
* The query sets the DO bit (RFC 3225) and the AD bit (RFC 6840 §5.7) so a validating
  resolver reports whether the answer was authenticated; we never validate ourselves.
* Timeouts, SERVFAIL and unreachable servers raise :class:`DnsTemporaryError`; NXDOMAIN and
  NODATA are answers with no records whose TTL comes from the SOA (RFC 2308 §5).
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver
import dns.rrset

from rongmail.services.dns.errors import DnsNameError, DnsTemporaryError
from rongmail.services.dns.types import Answer, MxRecord, Rcode, Rdata, TlsaRecord

#: Negative answers without an SOA in the authority section are cached this long.
DEFAULT_NEGATIVE_TTL = 60


def to_rdata(rdtype: str, rd: object) -> Rdata | None:
    """Convert one dnspython rdata to our plain value, or ``None`` for unknown types."""
    if rdtype in ("A", "AAAA"):
        return str(rd.address)  # type: ignore[attr-defined]
    if rdtype == "MX":
        exchange: dns.name.Name = rd.exchange  # type: ignore[attr-defined]
        host = "" if exchange == dns.name.root else exchange.to_text(omit_final_dot=True)
        return MxRecord(int(rd.preference), host.lower())  # type: ignore[attr-defined]
    if rdtype == "TXT":
        return tuple(bytes(s) for s in rd.strings)  # type: ignore[attr-defined]
    if rdtype in ("PTR", "CNAME"):
        target: dns.name.Name = rd.target  # type: ignore[attr-defined]
        return target.to_text(omit_final_dot=True).lower()
    if rdtype == "TLSA":
        return TlsaRecord(
            int(rd.usage),  # type: ignore[attr-defined]
            int(rd.selector),  # type: ignore[attr-defined]
            int(rd.mtype),  # type: ignore[attr-defined]
            bytes(rd.cert),  # type: ignore[attr-defined]
        )
    return None


def negative_ttl(response: dns.message.Message | None) -> int:
    """RFC 2308 §5: the TTL of a negative answer is min(SOA TTL, SOA MINIMUM)."""
    if response is not None:
        for rrset in response.authority:
            if rrset.rdtype == dns.rdatatype.SOA:
                return int(min(rrset.ttl, rrset[0].minimum))  # type: ignore[attr-defined]
    return DEFAULT_NEGATIVE_TTL


def to_name(name: str) -> dns.name.Name:
    try:
        return dns.name.from_text(name.rstrip(".") + ".")
    except (dns.exception.DNSException, UnicodeError) as e:
        raise DnsNameError(domain=name, detail=str(e)) from e


class DnspythonTransport:
    """Ask recursive resolvers over UDP (TCP on truncation) with dnspython's asyncio backend."""

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        *,
        port: int = 53,
        timeout: float = 5.0,
    ) -> None:
        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = list(nameservers)
        else:
            resolver = dns.asyncresolver.Resolver()
        resolver.port = port
        resolver.lifetime = timeout
        resolver.timeout = min(timeout, 2.0)
        resolver.cache = None
        resolver.use_search_by_default = False
        resolver.use_edns(0, dns.flags.DO, 1232)
        resolver.flags = dns.flags.RD | dns.flags.AD
        self._resolver = resolver

    @property
    def nameservers(self) -> list[str]:
        return [str(ns) for ns in self._resolver.nameservers]

    async def query(self, name: str, rdtype: str) -> Answer:
        qname = to_name(name)
        owner = qname.to_text(omit_final_dot=True).lower()
        try:
            ans = await self._resolver.resolve(
                qname, rdtype, raise_on_no_answer=False, search=False
            )
        except dns.resolver.NXDOMAIN as e:
            resp = e.response(qname) if qname in e.qnames() else None
            return Answer(owner, rdtype, Rcode.NXDOMAIN, (), negative_ttl(resp))
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as e:
            raise DnsTemporaryError(detail=f"{rdtype} {owner}: {e}") from e
        except dns.resolver.YXDOMAIN as e:
            raise DnsNameError(domain=name, detail=str(e)) from e
        secure = bool(ans.response.flags & dns.flags.AD)
        rrset: dns.rrset.RRset | None = ans.rrset
        if rrset is None:
            return Answer(owner, rdtype, Rcode.NOERROR, (), negative_ttl(ans.response), secure)
        records = tuple(r for r in (to_rdata(rdtype, rd) for rd in rrset) if r is not None)
        return Answer(owner, rdtype, Rcode.NOERROR, records, int(rrset.ttl), secure)
