"""Typed DNS answers shared by the resolver, its transports and every caller.

Invariants:

* Owner names and targets are lower-case A-labels without the trailing dot; the root name
  (the exchange of a null MX, RFC 7505 §3) is the empty string.
* ``records`` hold plain Python values per type: ``A``/``AAAA`` -> ``str`` address,
  ``MX`` -> :class:`MxRecord`, ``TXT`` -> ``tuple[bytes, ...]`` (the character-strings of one
  record, unjoined: RFC 7208 §3.3 and RFC 6376 §3.6.2.2 say how to join them),
  ``PTR``/``CNAME`` -> ``str``, ``TLSA`` -> :class:`TlsaRecord`.
* An empty ``records`` is either NXDOMAIN or NODATA; ``rcode`` tells which (RFC 2308).
* ``secure`` is the AD bit of the answer (RFC 4035 §3.2.3) as set by the configured
  validating resolver; a stub never validates itself, so DANE must only be used when the
  operator points RongMail at a trusted validating resolver (RFC 7672 §2.1.1).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, TypeAlias


class Rcode(enum.Enum):
    NOERROR = "NOERROR"
    NXDOMAIN = "NXDOMAIN"


@dataclass(frozen=True, slots=True)
class MxRecord:
    preference: int
    #: Lower-case host name; ``""`` for the root (null MX, RFC 7505).
    exchange: str


@dataclass(frozen=True, slots=True)
class TlsaRecord:
    """RFC 6698 §2.1: certificate usage, selector, matching type, association data."""

    usage: int
    selector: int
    mtype: int
    data: bytes


Rdata: TypeAlias = str | tuple[bytes, ...] | MxRecord | TlsaRecord


@dataclass(frozen=True, slots=True)
class Answer:
    name: str
    rdtype: str
    rcode: Rcode
    records: tuple[Rdata, ...]
    #: Seconds the answer may be cached (already clamped by the transport for negatives).
    ttl: int
    secure: bool = False

    @property
    def nxdomain(self) -> bool:
        return self.rcode is Rcode.NXDOMAIN


@dataclass(frozen=True, slots=True)
class MxResult:
    """The outcome of MX resolution for one domain (RFC 5321 §5.1, RFC 7505).

    ``hosts`` is the ordered list of exchanges to try (lowest preference first, equal
    preferences shuffled). ``implicit`` means no MX RRset existed and the domain itself is the
    only host (its A/AAAA records). ``null_mx`` and ``nxdomain`` mean the domain accepts no
    mail: a permanent failure for a sender.
    """

    domain: str
    hosts: tuple[str, ...]
    null_mx: bool = False
    implicit: bool = False
    nxdomain: bool = False
    #: Every answer on the way was DNSSEC-authenticated (the AD bit), RFC 7672 §2.2.
    secure: bool = False


class DnsTransport(Protocol):
    """Something that answers one question. Implementations raise
    :class:`rongmail.services.dns.errors.DnsTemporaryError` on SERVFAIL/timeouts and
    :class:`rongmail.services.dns.errors.DnsNameError` on a name that cannot be queried."""

    async def query(self, name: str, rdtype: str) -> Answer: ...
