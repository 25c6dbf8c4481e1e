"""Provider-independent pieces: live records, the diff against a plan, and the push.

Values are compared as parsed rdata (dnspython), in the same presentation format the plan uses,
so a provider's formatting (unquoted TXT, relative names, a separate MX priority) never causes a
spurious change. :func:`flat` / :func:`unflat` convert to and from the "value + priority" form
most Chinese providers use (Aliyun, DNSPod).

Invariants (those of ``dnswizard.push``): records RongMail did not create (not in ``owned``) are
never deleted; a foreign value that competes with ours (a second SPF, a foreign CNAME) is a
conflict reported for a human; :func:`push_plan` with ``dry_run`` changes nothing. Unlike an
RFC 2136 UPDATE, provider APIs are not atomic across records: adds run before deletes so a
half-applied push never leaves a name without a value, and the result says what was done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import dns.rdata

from rongmail.errors import TemporaryError
from rongmail.services.dnswizard.check import _family, _txt_join
from rongmail.services.dnswizard.plan import Record, _parse, fqdn, txt_value
from rongmail.services.dnswizard.push import Diff, Owned

SUPPORTED = frozenset({"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA"})


class ProviderError(TemporaryError):
    """The provider refused or failed a call; ``detail`` has its code (for operators)."""

    default_key = "dns.push.provider_error"


@dataclass(frozen=True, slots=True)
class LiveRecord:
    name: str  # absolute, lower case, trailing dot
    rtype: str
    value: str  # presentation format (as the plan writes it)
    ttl: int
    #: the provider's id of the record (or record set)
    id: str = ""

    def canon(self) -> str:
        return canon(self.rtype, self.value)


class DnsProvider(Protocol):
    kind: str

    async def list_records(self, zone: str) -> list[LiveRecord]: ...

    async def create(self, zone: str, record: Record) -> None: ...

    async def delete(self, zone: str, record: LiveRecord) -> None: ...

    async def close(self) -> None: ...


def canon(rtype: str, value: str) -> str:
    return str(_parse(rtype, value).to_text())


def relative(name: str, zone: str) -> str:
    """``mail.corp.test.`` in zone ``corp.test`` → ``mail``; the apex → ``@``."""
    n, z = fqdn(name).lower(), fqdn(zone).lower()
    if n == z:
        return "@"
    if not n.endswith("." + z):
        raise ValueError(f"{name} is not in zone {zone}")
    return n[: -len(z) - 1]


def absolute(rel: str, zone: str) -> str:
    z = fqdn(zone).lower()
    return z if rel in ("@", "") else f"{rel.lower().rstrip('.')}.{z}"


def flat(rtype: str, value: str) -> tuple[str, int | None]:
    """(value, priority) in the form Aliyun/DNSPod take: TXT unquoted, names without the
    trailing dot, MX preference apart."""
    rd: dns.rdata.Rdata = _parse(rtype, value)
    if rtype == "TXT":
        return _txt_join(rd), None
    if rtype == "MX":
        return rd.exchange.to_text().rstrip("."), int(rd.preference)  # type: ignore[attr-defined]
    if rtype == "CNAME":
        return rd.target.to_text().rstrip("."), None  # type: ignore[attr-defined]
    if rtype == "SRV":
        return (f"{rd.priority} {rd.weight} {rd.port} "  # type: ignore[attr-defined]
                f"{rd.target.to_text().rstrip('.')}"), None  # type: ignore[attr-defined]
    return str(rd.to_text()), None


def unflat(rtype: str, value: str, priority: int | None = None) -> str:
    """The inverse of :func:`flat`: presentation format with absolute names."""
    rtype = rtype.upper()
    if rtype == "TXT":
        v = value
        if len(v) >= 2 and v.startswith('"') and v.endswith('"'):
            return v  # already quoted
        return txt_value(v)
    if rtype == "MX":
        parts = value.split()
        if len(parts) == 2:  # some APIs return "10 host"
            return f"{int(parts[0])} {fqdn(parts[1])}"
        return f"{priority or 0} {fqdn(value)}"
    if rtype == "CNAME":
        return fqdn(value)
    if rtype == "SRV":
        p = value.split()
        return f"{p[0]} {p[1]} {p[2]} {fqdn(p[3])}"
    return value


def diff_live(records: Sequence[Record], live: Sequence[LiveRecord], owned: Owned) -> Diff:
    """What a push would do; same rules as ``dnswizard.push.diff`` with live data from the
    provider's API instead of DNS queries (provider data is fresher than caches)."""
    out = Diff()
    by_key: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        if r.managed:
            by_key.setdefault(r.key(), []).append(r)
    live_by: dict[tuple[str, str], list[LiveRecord]] = {}
    for lr in live:
        live_by.setdefault((lr.name.lower(), lr.rtype), []).append(lr)
    for (name, rtype), planned in by_key.items():
        wanted = {canon(rtype, r.value) for r in planned}
        have = live_by.get((name, rtype), [])
        have_canon = {lr.canon() for lr in have}
        for r in planned:
            (out.unchanged if canon(rtype, r.value) in have_canon else out.add).append(r)
        fams = {_family(r) for r in planned}
        for lr in have:
            text = lr.canon()
            if text in wanted:
                continue
            if (name, rtype, text) in owned:
                out.remove.append((name, rtype, text))
            elif rtype == "TXT" and _family_of(text) in fams:
                out.conflicts.append((planned[0], text))
            elif rtype == "CNAME":
                out.conflicts.append((planned[0], text))
    return out


def _family_of(txt_presentation: str) -> str:
    v = _txt_join(_parse("TXT", txt_presentation))
    return v.split(";", 1)[0].split(" ", 1)[0].lower()


@dataclass
class PushResult:
    diff: Diff
    added: list[tuple[str, str, str]] = field(default_factory=list)
    removed: list[tuple[str, str, str]] = field(default_factory=list)
    unsupported: list[Record] = field(default_factory=list)


async def push_plan(provider: DnsProvider, zone: str, records: Sequence[Record], owned: Owned,
                    *, dry_run: bool = False) -> PushResult:
    """Diff the plan against the provider's records, then (unless ``dry_run``) add what is
    missing and delete our own stale values. Returns what was done, for ``dns_owned``."""
    supported = [r for r in records if r.rtype in SUPPORTED]
    live = await provider.list_records(zone)
    d = diff_live(supported, live, owned)
    res = PushResult(d, unsupported=[r for r in records if r.rtype not in SUPPORTED])
    if dry_run:
        return res
    for r in d.add:
        await provider.create(zone, r)
        res.added.append((r.name.lower(), r.rtype, canon(r.rtype, r.value)))
    index = {(lr.name.lower(), lr.rtype, lr.canon()): lr for lr in live}
    for key in d.remove:
        lr = index.get(key)
        if lr is not None:
            await provider.delete(zone, lr)
        res.removed.append(key)
    return res
