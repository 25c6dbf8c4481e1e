"""DMARC (RFC 7489) policy discovery, identifier alignment and disposition.

Why our own code and not the ``dmarc`` package: the evaluation is ~150 lines of tag parsing
and comparisons; the package takes a single DKIM result (a message often carries several
signatures, RFC 7489 §4.2 passes if *any* aligned one passes), signals outcomes with
exceptions, and has no notion of our DNS (discovery must use the shared async resolver and
distinguish temporary failures). The Public Suffix List comes from ``publicsuffixlist``, which
bundles a dated copy so no network is needed at run time (RFC 7489 §3.2).

Invariants:

* :func:`evaluate` is pure: DNS happens in :func:`discover_policy`, randomness (``pct=``) is
  injected, so every branch is unit-tested without a network.
* The disposition maps to RongMail's actions as the issue asks: ``quarantine`` -> deliver to
  Junk, ``reject`` -> refuse (SMTP 550 5.7.1), ``none`` -> deliver normally.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.headerregistry import HeaderRegistry
from email.utils import getaddresses
from functools import cache, lru_cache

from publicsuffixlist import PublicSuffixList

from rongmail.services.dns import DnsNameError, DnsResolver, DnsTemporaryError
from rongmail.services.mailauth.dkim import DkimResult, split_header_section
from rongmail.services.mailauth.spf import SpfResult, SpfVerdict


class Policy(enum.StrEnum):
    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"


class Disposition(enum.StrEnum):
    """What RongMail does with the message."""

    ACCEPT = "accept"
    JUNK = "junk"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    """A parsed ``v=DMARC1`` record (RFC 7489 §6.3; ``np`` from DMARCbis)."""

    p: Policy
    sp: Policy | None = None
    np: Policy | None = None
    adkim: str = "r"
    aspf: str = "r"
    pct: int = 100
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    fo: str = "0"


class DmarcRecordError(ValueError):
    """The text is not a usable DMARC record (treated as no policy, RFC 7489 §6.6.3)."""


@lru_cache(maxsize=1024)
def parse_record(text: str) -> DmarcRecord:
    """Parse a DMARC TXT record (RFC 7489 §6.4 grammar, lenient on whitespace and case).

    Memoized by the record text (a pure function with an immutable answer; errors are not
    cached and raise again): a sender domain's record is parsed once, not per message."""
    parts = [p.strip() for p in text.split(";")]
    if not parts or parts[0].replace(" ", "") != "v=DMARC1":
        raise DmarcRecordError("not a DMARC1 record")
    tags: dict[str, str] = {}
    for part in parts[1:]:
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep:
            raise DmarcRecordError(f"malformed tag {part!r}")
        tags.setdefault(k.strip().lower(), v.strip())

    def policy(name: str) -> Policy | None:
        v = tags.get(name)
        if v is None:
            return None
        try:
            return Policy(v.lower())
        except ValueError as e:
            raise DmarcRecordError(f"bad {name}={v}") from e

    p = policy("p")
    if p is None:
        # RFC 7489 §6.6.3 step 6: a record with rua= but no valid p= is treated as p=none.
        if "rua" in tags:
            p = Policy.NONE
        else:
            raise DmarcRecordError("missing p=")
    align = {k: tags.get(k, "r").lower() for k in ("adkim", "aspf")}
    if any(v not in ("r", "s") for v in align.values()):
        raise DmarcRecordError("bad alignment mode")
    try:
        pct = max(0, min(100, int(tags.get("pct", "100"))))
    except ValueError:
        pct = 100
    uris = {
        k: tuple(u.strip() for u in tags.get(k, "").split(",") if u.strip()) for k in ("rua", "ruf")
    }
    return DmarcRecord(
        p, policy("sp"), policy("np"), align["adkim"], align["aspf"], pct,
        uris["rua"], uris["ruf"], tags.get("fo", "0"),
    )  # fmt: skip


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


@lru_cache(maxsize=16384)
def organizational_domain(domain: str) -> str:
    """RFC 7489 §3.2: the public suffix plus one label; the domain itself if it is a suffix.
    Memoized: a pure function of ``domain`` (the suffix list is loaded once)."""
    d = domain.lower().rstrip(".")
    return _psl().privatesuffix(d) or d


def aligned(auth_domain: str, from_domain: str, mode: str) -> bool:
    """RFC 7489 §3.1: strict = identical; relaxed = same organizational domain."""
    a, f = auth_domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if mode == "s":
        return a == f
    return organizational_domain(a) == organizational_domain(f)


@dataclass(frozen=True, slots=True)
class PolicyLookup:
    record: DmarcRecord | None
    #: Where the record was found (the From domain or its organizational domain).
    domain: str
    temperror: bool = False


async def _fetch(resolver: DnsResolver, domain: str) -> tuple[DmarcRecord | None, bool]:
    try:
        texts = await resolver.txt(f"_dmarc.{domain}")
    except DnsTemporaryError:
        return None, True
    except DnsNameError:
        return None, False
    records = [t for t in texts if t.replace(" ", "").startswith("v=DMARC1")]
    if len(records) != 1:  # RFC 7489 §6.6.3 step 5: none or several -> no policy
        return None, False
    try:
        return parse_record(records[0]), False
    except DmarcRecordError:
        return None, False


async def discover_policy(resolver: DnsResolver, from_domain: str) -> PolicyLookup:
    """RFC 7489 §6.6.3: ``_dmarc.<From domain>``, then ``_dmarc.<organizational domain>``."""
    d = from_domain.lower().rstrip(".")
    record, temp = await _fetch(resolver, d)
    if record or temp:
        return PolicyLookup(record, d, temp)
    org = organizational_domain(d)
    if org != d:
        record, temp = await _fetch(resolver, org)
        return PolicyLookup(record, org, temp)
    return PolicyLookup(None, d)


@dataclass(frozen=True, slots=True)
class DmarcResult:
    result: str  # pass | fail | none | temperror | permerror (RFC 7489 §11.2)
    header_from: str
    policy: Policy | None = None
    disposition: Disposition = Disposition.ACCEPT
    spf_aligned: bool = False
    dkim_aligned: bool = False
    policy_domain: str = ""
    #: Reasons kept for the A-R comment and the delivery log (e.g. ``pct`` sampling).
    notes: tuple[str, ...] = field(default=())


_DISPOSITION = {
    Policy.NONE: Disposition.ACCEPT,
    Policy.QUARANTINE: Disposition.JUNK,
    Policy.REJECT: Disposition.REJECT,
}
_WEAKER = {Policy.REJECT: Policy.QUARANTINE, Policy.QUARANTINE: Policy.NONE}


def evaluate(
    header_from: str,
    lookup: PolicyLookup,
    spf: SpfVerdict | None,
    dkim: Sequence[DkimResult],
    *,
    from_exists: bool = True,
    rng: Callable[[], float] = random.random,
) -> DmarcResult:
    """Apply RFC 7489 §6.6.2 (alignment) and §6.6.4 (policy, ``pct`` sampling)."""
    f = header_from.lower().rstrip(".")
    if lookup.temperror:
        return DmarcResult("temperror", f)
    rec = lookup.record
    if rec is None:
        return DmarcResult("none", f)
    # RFC 7489 §4.1: the MAIL FROM identity, which for a null path is postmaster@HELO
    # (RFC 7208 §2.4), so a HELO-identity verdict from check_spf() counts too.
    spf_ok = spf is not None and spf.result is SpfResult.PASS and aligned(spf.domain, f, rec.aspf)
    dkim_ok = any(r.result == "pass" and aligned(r.domain, f, rec.adkim) for r in dkim)
    at_org = lookup.domain != f
    if at_org and not from_exists and rec.np is not None:
        policy = rec.np
    elif at_org and rec.sp is not None:
        policy = rec.sp
    else:
        policy = rec.p
    if spf_ok or dkim_ok:
        return DmarcResult("pass", f, policy, Disposition.ACCEPT, spf_ok, dkim_ok, lookup.domain)
    notes: tuple[str, ...] = ()
    applied = policy
    if rec.pct < 100 and rng() * 100 >= rec.pct:
        applied = _WEAKER.get(policy, Policy.NONE)
        notes = (f"pct={rec.pct} sampled out",)
    return DmarcResult("fail", f, policy, _DISPOSITION[applied], False, False, lookup.domain, notes)


# RFC 5322 §3.4 "addr-spec" or "[phrase] <addr-spec>" with a dot-atom local part and an LDH
# domain: nearly every From field. Each repetition consumes one character or one quoted string,
# so matching is linear. Anything else (groups, lists, comments, quoted local parts, raw UTF-8,
# domain literals) is left to the ``email`` package's full parser.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR = (rf"{_ATOM}(?:\.{_ATOM})*@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)")  # fmt: skip
_PHRASE = r"""(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~\- \t.]|"(?:[^"\\]|\\.)*")*"""
_SIMPLE_FROM = re.compile(rf"[ \t]*(?:{_ADDR}|{_PHRASE}<{_ADDR}>)[ \t]*")


def _simple_from_domain(text: str) -> str | None:
    """The domain of a From value in one of the simple forms, else ``None`` (not decided)."""
    m = _SIMPLE_FROM.fullmatch(text)
    if m is None:
        return None
    return (m[1] or m[2]).lower()


def _from_domains_full(text: str) -> set[str]:
    """Every address domain of a From value, by the ``email`` package's header parser."""
    try:
        parsed = HeaderRegistry()("From", text)
        addrs = [a.domain for a in getattr(parsed, "addresses", ())]
    except Exception:  # email's header parser raises a zoo of types on hostile input
        addrs = [addr.rpartition("@")[2] for _name, addr in getaddresses([text])]
    return {d.lower().rstrip(".") for d in addrs if d}


def header_from_domain(message: bytes) -> str | None:
    """The single RFC5322.From domain (RFC 7489 §6.6.1), or ``None`` when there is not
    exactly one From field with one address (such messages get ``permerror``)."""
    values = [v for n, v in split_header_section(message) if n.lower() == b"from"]
    if len(values) != 1:
        return None
    text = values[0].decode("utf-8", "replace").replace("\r\n", "").replace("\n", "")
    simple = _simple_from_domain(text)  # per message: skip the slow parser when it can
    if simple is not None:
        return simple
    domains = _from_domains_full(text)
    if len(domains) != 1:
        return None
    return domains.pop()


async def check_dmarc(
    resolver: DnsResolver,
    message: bytes,
    spf: SpfVerdict | None,
    dkim: Sequence[DkimResult],
    *,
    rng: Callable[[], float] = random.random,
) -> DmarcResult:
    """Discover and evaluate the From domain's policy for ``message``."""
    domain = header_from_domain(message)
    if domain is None:
        return DmarcResult("permerror", "", notes=("not exactly one From address",))
    lookup = await discover_policy(resolver, domain)
    from_exists = True
    if lookup.record is not None and lookup.domain != domain and lookup.record.np is not None:
        try:
            from_exists = not (await resolver.query(domain, "A")).nxdomain
        except (DnsTemporaryError, DnsNameError):
            from_exists = True
    return evaluate(domain, lookup, spf, dkim, from_exists=from_exists, rng=rng)
