"""Spam, phishing and malware filtering settings (issue 9, DESIGN.md rule 7).

Root ``Settings.spam`` holds one :class:`SpamSettings`. These are the server's *defaults*: a
tenant's ``spam_settings`` row (thresholds, tag weights, on/off, written through
``actions.spam.do_set_spam_settings``) overrides ``enabled`` and the thresholds for that tenant.
External engines are optional and off unless configured or auto-detected (at start and by a
periodic probe, ``probe_interval``):

* DNSBL (RFC 5782 §2) and URIBL (RFC 5782 §3) zones, each with its own tag and weight; the
  default is none, because public lists refuse queries from public resolvers and from
  high-volume users without a feed (Spamhaus: use your own recursive resolver or a DQS key);
* ClamAV through clamd (``unix:/run/clamav/clamd.ctl`` or ``tcp:127.0.0.1:3310``);
* rspamd through its HTTP protocol (``http://127.0.0.1:11333``).

When a configured scanner does not answer, ``scanner_failure`` says what happens: ``accept``
(default: the message is filtered without it and carries the ``SCANNER_UNAVAILABLE`` tag, the
failure is logged, no mail is lost) or ``tempfail`` (451: the client retries later).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from rongmail.config.base import Section

_ZONE_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_-]+$")


def split_nameserver(spec: str) -> tuple[str, int | None]:
    """A resolver address as ``(ip, port or None)``: ``192.0.2.53``, ``192.0.2.53:5353``,
    a bare IPv6 address (``2001:db8::53``) or ``[2001:db8::53]:5353`` (RFC 3986 §3.2.2
    brackets: without them an IPv6 address has no room for a port). Raises ``ValueError``."""
    s = spec.strip()
    port: str | None = None
    if s.startswith("["):
        host, sep, rest = s[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"expected [ipv6]:port, got {spec!r}")
        ipaddress.IPv6Address(host)
        port = rest[1:] if rest else None
    elif s.count(":") == 1:
        host, port = s.split(":")
        ipaddress.IPv4Address(host)
    else:
        host = s
        ipaddress.ip_address(host)
    if port is None:
        return host, None
    if not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"bad port in {spec!r}")
    return host, int(port)


class BlocklistZone(Section):
    """One DNS blocklist (DNSBL for client addresses, URIBL for linked domains)."""

    zone: str = Field(description="DNS zone of the list, e.g. `zen.spamhaus.org`.")
    tag: str = Field(
        "",
        description="Tag a listing produces (a name from `services/spam/rules/tags.toml`); "
        "empty: RBL_LISTED for DNSBL zones, URIBL_LISTED for URIBL zones.",
    )
    weight: float | None = Field(
        None,
        ge=-100,
        le=100,
        description="Score of a listing in this zone; empty: the tag's registry score. A "
        "tenant's own weight for the tag still wins.",
    )
    codes: tuple[str, ...] = Field(
        (),
        description="Answers (A records) that count as a listing, e.g. "
        '`["127.0.0.2", "127.0.0.3"]`; empty: any 127.0.0.0/8 answer except the '
        "127.255.255.x error codes (RFC 5782 §2.1).",
    )

    @field_validator("zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        v = v.strip().rstrip(".").lower()
        if not _ZONE_RE.match(v):
            raise ValueError(f"not a DNS zone name: {v!r}")
        return v

    @field_validator("codes")
    @classmethod
    def _codes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for c in v:
            ipaddress.IPv4Address(c)
        return v


class ClamdSettings(Section):
    """ClamAV's clamd (INSTREAM, clamd.conf(5))."""

    address: str = Field(
        "",
        description="`unix:/path/to/clamd.ctl` or `tcp:host:port`; empty: not configured "
        "(see auto_detect).",
    )
    auto_detect: bool = Field(
        True,
        description="When `address` is empty, probe `detect_address` at start and every "
        "spam.probe_interval seconds, and use clamd from the first time it answers PING.",
    )
    detect_address: str = Field(
        "unix:/run/clamav/clamd.ctl",
        description="Where auto_detect looks for clamd (Debian's default socket).",
    )
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds per clamd scan.")

    @field_validator("address", "detect_address")
    @classmethod
    def _address(cls, v: str) -> str:
        if v and not (v.startswith("unix:/") or re.match(r"^tcp:[^:]+:\d{1,5}$", v)):
            raise ValueError('expected "", "unix:/path" or "tcp:host:port"')
        return v


class RspamdSettings(Section):
    """rspamd's normal worker (HTTP ``/checkv2``)."""

    url: str = Field(
        "",
        description="Base URL of rspamd's normal worker, e.g. `http://127.0.0.1:11333`; "
        "empty: not configured (see auto_detect).",
    )
    auto_detect: bool = Field(
        True,
        description="When `url` is empty, probe `detect_url`/ping at start and every "
        "spam.probe_interval seconds, and use rspamd from the first time it answers.",
    )
    detect_url: str = Field(
        "http://127.0.0.1:11333",
        description="Where auto_detect looks for rspamd's normal worker.",
    )
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds per rspamd check.")

    @field_validator("url", "detect_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not re.match(r"^https?://[^/\s]+(/\S*)?$", v):
            raise ValueError("expected an http:// or https:// URL")
        return v.rstrip("/")


class OutboundSpamSettings(Section):
    """Outbound filtering of authenticated submissions (a compromised account is held)."""

    enabled: bool = Field(True, description="Check submissions for bursts, volume and spam.")
    burst_per_minute: int = Field(
        30, ge=1, description="Messages per account per minute; more get 451 and alert admins."
    )
    hourly_floor: int = Field(
        300,
        ge=1,
        description="Recipients per account per hour always allowed; above "
        "max(hourly_floor, growth x the account's hourly baseline) mail is held.",
    )
    growth: float = Field(10.0, ge=1, description="Allowed growth over the hourly baseline.")
    cooldown: float = Field(
        3600.0,
        ge=0,
        description="Seconds an account stays flagged (everything it sends is held) after an "
        "anomaly, and between two alerts about it.",
    )


class SpamSettings(Section):
    """Inbound spam, phishing and malware filtering; outbound abuse detection."""

    enabled: bool = Field(
        True,
        description="Filter inbound mail, and score the content of submissions for "
        "outbound.enabled (a tenant's own settings can turn it off).",
    )
    junk_score: float = Field(
        5.0,
        description="Default score at or above which mail goes to Junk (per tenant: "
        "the spam settings row). The thresholds apply to inbound mail and to the content "
        "check of submissions (quarantine_score and up: held).",
    )
    quarantine_score: float = Field(
        10.0, description="Default score at or above which mail is held in quarantine."
    )
    reject_score: float = Field(
        15.0,
        description="Default score at or above which mail is refused at SMTP time; only with "
        "hard evidence (virus, DMARC p=reject, zip bomb), else it is quarantined.",
    )
    budget: float = Field(
        8.0, gt=0, le=120, description="Seconds all analyzers of one message may take together."
    )
    dnsbl: tuple[BlocklistZone, ...] = Field(
        (),
        description="DNSBLs queried with the client address, each "
        '`{zone = "...", tag = "", weight = 4.0, codes = []}` (only zone is required). '
        "Recommended with your own resolver: `zen.spamhaus.org` (codes 127.0.0.2-127.0.0.11), "
        "`bl.spamcop.net`.",
    )
    uribl: tuple[BlocklistZone, ...] = Field(
        (),
        description="URIBLs queried with each linked registrable domain (at most 10 per "
        "message), entries as for dnsbl. Recommended: `dbl.spamhaus.org` (codes "
        "127.0.1.2-127.0.1.106), `multi.surbl.org`, `multi.uribl.com`.",
    )
    dns_nameservers: tuple[str, ...] = Field(
        (),
        description="Resolvers for DNSBL/URIBL questions: `ip`, `ip:port`, a bare IPv6 "
        "address or `[ipv6]:port` (default port 53); empty: those of queue.dns, else the "
        "system's.",
    )
    dns_timeout: float = Field(2.0, gt=0, le=30, description="Seconds per blocklist question.")
    scanner_failure: Literal["accept", "tempfail"] = Field(
        "accept",
        description="When a configured clamd or rspamd does not answer: `accept` filters "
        "without it, tags SCANNER_UNAVAILABLE and logs; `tempfail` answers 451 so the sender "
        "retries.",
    )
    probe_interval: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="Seconds between liveness probes of clamd and rspamd (configured or "
        "auto-detected): a scanner started later is picked up, one that stops answering is "
        "logged; 0: probe only at start.",
    )
    first_contact: bool = Field(
        True,
        description="Look up whether the tenant ever wrote to (or accepted clean mail from) "
        "the sender, for first-contact rules such as PAYMENT_CHANGE_FIRST_TIME.",
    )
    clamd: ClamdSettings = Field(default_factory=ClamdSettings)  # type: ignore[arg-type]
    rspamd: RspamdSettings = Field(default_factory=RspamdSettings)  # type: ignore[arg-type]
    outbound: OutboundSpamSettings = Field(default_factory=OutboundSpamSettings)  # type: ignore[arg-type]

    @field_validator("dns_nameservers")
    @classmethod
    def _ns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for ns in v:
            split_nameserver(ns)
        return v

    @model_validator(mode="after")
    def _thresholds(self) -> SpamSettings:
        if not self.junk_score <= self.quarantine_score <= self.reject_score:
            raise ValueError(
                "thresholds must satisfy junk_score <= quarantine_score <= reject_score"
            )
        return self
