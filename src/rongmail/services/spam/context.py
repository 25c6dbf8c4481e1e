"""What the analyzers know about a message beyond its content.

:class:`ScanContext` is built per message by the pipeline stage from the envelope, the mailauth
stage's results and the tenant's settings; analyzers only read it. I/O is injected: a
:class:`Resolver` for DNSBL/URIBL queries, an optional :class:`VirusScanner` (clamd) and optional
:class:`ExternalFilter` engines (rspamd), so tests run against a local zone or fakes and nothing
here opens sockets by itself.

Scanners built with ``raise_errors=True`` raise :class:`ScannerUnavailable` when they cannot
answer; :func:`~.scan.analyze` turns that into the ``SCANNER_UNAVAILABLE`` tag, so the pipeline
stage can apply the configured failure policy (fail open, or 451).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from .tags import Tag

if TYPE_CHECKING:  # the model is passed in; importing the classifier here would load NumPy
    from .classifier import ContentModel

__all__ = [
    "Blocklist",
    "ExternalFilter",
    "Person",
    "Resolver",
    "ScanContext",
    "ScannerUnavailable",
    "VirusScanner",
]


class ScannerUnavailable(Exception):  # noqa: N818 - a condition, not a bug
    """A configured external scanner (clamd, rspamd) did not answer usefully."""


@dataclass(frozen=True, slots=True)
class Blocklist:
    """One DNSBL/URIBL zone as configured (``config.spam.BlocklistZone``).

    ``tag`` empty: the analyzer's default (RBL_LISTED / URIBL_LISTED); ``score`` ``None``: the
    tag's registry score; ``codes`` empty: any 127.0.0.0/8 answer but 127.255.255.x."""

    zone: str
    tag: str = ""
    score: float | None = None
    codes: frozenset[str] = frozenset()


class Resolver(Protocol):
    """Async A-record lookup: the addresses of ``name``, or ``[]`` for NXDOMAIN/no answer.

    Implementations raise nothing for ordinary DNS failures (timeouts count as "not listed")."""

    async def a(self, name: str) -> list[str]: ...


class ExternalFilter(Protocol):
    """An external engine (rspamd) that turns the raw message into closed-set tags; may raise
    :class:`ScannerUnavailable` when it could not check."""

    async def tags(self, raw: bytes, ctx: ScanContext) -> list[Tag]: ...


class VirusScanner(Protocol):
    """Async malware scan of one payload: the signature name, or ``None`` when clean; may
    raise :class:`ScannerUnavailable` when it could not scan."""

    async def scan(self, data: bytes) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Person:
    """A colleague whose display name outsiders might borrow; ``executive`` ones weigh more."""

    name: str
    address: str
    executive: bool = False


@dataclass(frozen=True, slots=True)
class ScanContext:
    """Per-message facts for the analyzers (all optional: an empty context still works).

    ``auth`` holds the mailauth results as lower-case words, e.g. ``{"spf": "pass",
    "dkim": "fail", "dmarc": "fail", "dmarc_policy": "reject"}``.
    """

    tenant_domains: frozenset[str] = frozenset()
    partner_domains: frozenset[str] = frozenset()
    people: tuple[Person, ...] = ()
    auth: Mapping[str, str] = field(default_factory=dict)
    envelope_from: str | None = None
    client_ip: str | None = None
    helo: str | None = None
    #: The sender has never written to this tenant before (from the store's sender history).
    first_time_sender: bool = False
    #: The raw message bytes; needed by the attachment analyzers.
    raw: bytes | None = None
    model: ContentModel | None = None
    resolver: Resolver | None = None
    #: Zone names or configured :class:`Blocklist` entries.
    dnsbl_zones: tuple[str | Blocklist, ...] = ()
    uribl_zones: tuple[str | Blocklist, ...] = ()
    virus_scanner: VirusScanner | None = None
    #: External engines (e.g. :class:`~.rspamd.RspamdClient`), given ``raw``.
    external: tuple[ExternalFilter, ...] = ()
    #: Reference time for date checks (defaults to the current time).
    now: datetime | None = None
