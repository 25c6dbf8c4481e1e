"""Check a plan against live DNS: each record OK / missing / wrong, with the exact fix.

Queries go straight to the configured resolvers with dnspython (no cache: a check must see
what the world sees now). Values are compared as parsed rdata, so formatting differences
(quoting, TXT string splits, case of names) never produce false alarms.

Beyond the plan: the PTR of every mail host address should name the host (forward-confirmed
reverse DNS, what receiving MTAs check); the SPF record must stay within 10 DNS-querying
mechanisms (RFC 7208 §4.6.4); DMARC alignment (RFC 7489 §3.1) holds when the DKIM signing
domain and the SPF (MAIL FROM) domain are the author domain.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.reversename

from rongmail.services.dnswizard.plan import Record, _parse

Status = Literal["ok", "missing", "wrong", "error"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    record: Record
    status: Status
    found: tuple[str, ...] = ()
    #: the exact fix in master-file syntax ("" when ok)
    fix: str = ""
    #: catalogue key of the problem ("" when ok)
    problem: str = ""


@dataclass
class Report:
    results: list[CheckResult] = field(default_factory=list)
    extra: list[tuple[str, Status, str]] = field(default_factory=list)  # (key, status, detail)

    @property
    def all_ok(self) -> bool:
        return all(r.status == "ok" for r in self.results) and all(
            s == "ok" for _, s, _ in self.extra)


def make_resolver(nameservers: Sequence[str] = (), port: int = 53,
                  timeout: float = 5.0) -> dns.asyncresolver.Resolver:
    if nameservers:
        r = dns.asyncresolver.Resolver(configure=False)
        r.nameservers = list(nameservers)
    else:
        r = dns.asyncresolver.Resolver()
    r.port = port
    r.lifetime = timeout
    r.cache = None
    return r


def _txt_join(rd: dns.rdata.Rdata) -> str:
    return b"".join(rd.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]


async def lookup(res: dns.asyncresolver.Resolver, name: str, rtype: str
                 ) -> tuple[list[dns.rdata.Rdata], str]:
    """(rdatas, status) where status is ok / nxdomain / nodata / error."""
    try:
        ans = await res.resolve(name, rtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return [], "nxdomain"
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as e:
        return [], f"error: {e.__class__.__name__}"
    if ans.rrset is None:
        return [], "nodata"
    # a CNAME chain answers for the target; report only same-type records at the name
    return [rd for rd in ans.rrset], "ok"


def _family(r: Record) -> str | None:
    """TXT records that share a name are told apart by their version tag."""
    if r.rtype != "TXT":
        return None
    v = _txt_join(_parse("TXT", r.value))
    return v.split(";", 1)[0].split(" ", 1)[0].lower()


async def check_plan(records: Sequence[Record], res: dns.asyncresolver.Resolver) -> Report:
    report = Report()
    by_key: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        by_key.setdefault(r.key(), []).append(r)
    for (name, rtype), planned in by_key.items():
        live, status = await lookup(res, name, rtype)
        if status.startswith("error"):
            for r in planned:
                report.results.append(CheckResult(r, "error", (), "", "dns.check.error"))
            continue
        live_texts = tuple(rd.to_text() for rd in live)
        for r in planned:
            want = _parse(rtype, r.value)
            if any(rd == want for rd in live):
                report.results.append(CheckResult(r, "ok", live_texts))
                continue
            fam = _family(r)
            clash = [rd for rd in live if fam and _txt_join(rd).lower().startswith(fam)]
            if rtype in ("CNAME",) and live:
                clash = live
            if clash:
                olds = tuple(rd.to_text() for rd in clash)
                fix = "\n".join([f"; remove: {r.name} IN {rtype} {o}" for o in olds] +
                                [f"{r.name} {r.ttl} IN {rtype} {r.value}"])
                report.results.append(CheckResult(r, "wrong", olds, fix, "dns.check.wrong"))
            else:
                report.results.append(CheckResult(r, "missing", live_texts,
                                                  f"{r.name} {r.ttl} IN {rtype} {r.value}",
                                                  "dns.check.missing"))
    return report


async def check_ptr(host: str, ips: Sequence[str], res: dns.asyncresolver.Resolver
                    ) -> list[tuple[str, Status, str]]:
    out: list[tuple[str, Status, str]] = []
    for ip in ips:
        rev = dns.reversename.from_address(ip).to_text()
        live, _ = await lookup(res, rev, "PTR")
        names = [rd.to_text().rstrip(".").lower() for rd in live]
        if host.lower().rstrip(".") in names:
            out.append((f"ptr:{ip}", "ok", ",".join(names)))
        else:
            out.append((f"ptr:{ip}", "wrong" if names else "missing",
                        f"{rev} IN PTR {host.rstrip('.')}."))
    return out


async def spf_lookups(domain: str, res: dns.asyncresolver.Resolver, *, depth: int = 0,
                      seen: set[str] | None = None) -> int:
    """Count DNS-querying terms (include, a, mx, ptr, exists, redirect) recursively."""
    seen = seen if seen is not None else set()
    if depth > 10 or domain in seen:
        return 0
    seen.add(domain)
    live, _ = await lookup(res, domain, "TXT")
    spf = next((_txt_join(rd) for rd in live if _txt_join(rd).lower().startswith("v=spf1")), "")
    n = 0
    for term in spf.split()[1:]:
        t = term.lstrip("+-~?").lower()
        mech = t.split(":", 1)[0].split("=", 1)[0].split("/", 1)[0]
        if mech in ("a", "mx", "ptr", "exists"):
            n += 1
        elif mech in ("include", "redirect"):
            n += 1
            target = t.split(":", 1)[1] if ":" in t else t.split("=", 1)[1]
            n += await spf_lookups(target, res, depth=depth + 1, seen=seen)
    return n


def dmarc_aligned(domain: str, dkim_domains: Sequence[str], mail_from_domain: str) -> bool:
    """Relaxed alignment (RFC 7489 §3.1.1): organisational domains match. We use the
    registered-domain approximation of the last two labels (no public suffix list shipped)."""
    def org(d: str) -> str:
        return ".".join(d.lower().rstrip(".").split(".")[-2:])

    o = org(domain)
    return any(org(x) == o for x in dkim_domains) or org(mail_from_domain) == o


async def full_check(records: Sequence[Record], res: dns.asyncresolver.Resolver, *,
                     domain: str, hosts: Sequence[tuple[str, Sequence[str]]]) -> Report:
    report = await check_plan(records, res)
    for host, ips in hosts:
        public = [ip for ip in ips if not ipaddress.ip_address(ip).is_loopback]
        report.extra.extend(await check_ptr(host, public or list(ips), res))
    n = await spf_lookups(domain, res)
    report.extra.append(("spf_lookups", "ok" if n <= 10 else "wrong", str(n)))
    return report
