"""DMARC record parsing, alignment and policy (RFC 7489), pure and with an in-memory DNS."""

from __future__ import annotations

import pytest

from rongmail.services.dns import DnsResolver, MemoryTransport
from rongmail.services.mailauth.dkim import DkimResult
from rongmail.services.mailauth.dmarc import (
    Disposition,
    DmarcRecordError,
    Policy,
    PolicyLookup,
    aligned,
    check_dmarc,
    discover_policy,
    evaluate,
    header_from_domain,
    organizational_domain,
    parse_record,
)
from rongmail.services.mailauth.spf import SpfResult, SpfVerdict


def spf(result: str, domain: str) -> SpfVerdict:
    return SpfVerdict(SpfResult(result), "mailfrom", domain, f"a@{domain}", "192.0.2.1")


def dkim(result: str, domain: str) -> DkimResult:
    return DkimResult(result, domain, "s", "rsa-sha256", f"@{domain}", "abc")


def test_parse_record() -> None:
    r = parse_record(
        "v=DMARC1; p=Quarantine; sp=reject; adkim=s; pct=50; rua=mailto:a@x.cn,mailto:b@x.cn"
    )
    assert (r.p, r.sp, r.adkim, r.aspf, r.pct) == (Policy.QUARANTINE, Policy.REJECT, "s", "r", 50)
    assert r.rua == ("mailto:a@x.cn", "mailto:b@x.cn")
    assert parse_record("v=DMARC1; rua=mailto:a@x.cn").p is Policy.NONE  # §6.6.3 step 6
    for bad in (
        "v=spf1 -all",
        "v=DMARC1; p=bogus",
        "v=DMARC1; sp=none",
        "v=DMARC1; p=none; adkim=x",
    ):
        with pytest.raises(DmarcRecordError):
            parse_record(bad)


def test_organizational_domain_and_alignment() -> None:
    assert organizational_domain("mail.news.example.com.cn") == "example.com.cn"
    assert organizational_domain("smtp.qq.com") == "qq.com"
    assert aligned("bounce.example.org", "example.org", "r")
    assert not aligned("bounce.example.org", "example.org", "s")
    assert not aligned("example.org.evil.test", "example.org", "r")


@pytest.mark.parametrize(
    ("spf_r", "dkim_r", "expected"),
    [
        (spf("pass", "example.org"), [], "pass"),
        (spf("pass", "mail.example.org"), [], "pass"),  # relaxed
        (spf("pass", "other.test"), [dkim("pass", "example.org")], "pass"),
        (spf("pass", "other.test"), [dkim("pass", "other.test")], "fail"),  # unaligned
        (spf("fail", "example.org"), [dkim("fail", "example.org")], "fail"),
        (None, [dkim("fail", "example.org"), dkim("pass", "example.org")], "pass"),
    ],
)
def test_evaluate_alignment(spf_r, dkim_r, expected) -> None:
    lookup = PolicyLookup(parse_record("v=DMARC1; p=reject"), "example.org")
    result = evaluate("example.org", lookup, spf_r, dkim_r)
    assert result.result == expected
    assert result.disposition is (Disposition.ACCEPT if expected == "pass" else Disposition.REJECT)


def test_policy_subdomain_pct_and_strict() -> None:
    rec = parse_record("v=DMARC1; p=reject; sp=quarantine; aspf=s; pct=30")
    at_org = PolicyLookup(rec, "example.org")
    r = evaluate("shop.example.org", at_org, spf("pass", "example.org"), [], rng=lambda: 0.1)
    assert (r.result, r.policy, r.disposition) == ("fail", Policy.QUARANTINE, Disposition.JUNK)
    r = evaluate("shop.example.org", at_org, None, [], rng=lambda: 0.9)
    assert r.disposition is Disposition.ACCEPT and r.notes  # sampled out: one step weaker
    r = evaluate("example.org", at_org, None, [], rng=lambda: 0.9)
    assert r.disposition is Disposition.JUNK
    np_rec = PolicyLookup(parse_record("v=DMARC1; p=none; np=reject"), "example.org")
    r = evaluate("ghost.example.org", np_rec, None, [], from_exists=False)
    assert r.disposition is Disposition.REJECT
    assert evaluate("x.test", PolicyLookup(None, "x.test"), None, []).result == "none"
    assert evaluate("x.test", PolicyLookup(None, "x.test", True), None, []).result == "temperror"


async def test_discovery_falls_back_to_organizational_domain() -> None:
    zone = MemoryTransport().add("_dmarc.example.org", "TXT", "v=DMARC1; p=quarantine")
    resolver = DnsResolver(zone)
    got = await discover_policy(resolver, "mail.example.org")
    assert got.domain == "example.org" and got.record and got.record.p is Policy.QUARANTINE
    zone.add("_dmarc.two.test", "TXT", "v=DMARC1; p=reject", "v=DMARC1; p=none")
    assert (await discover_policy(resolver, "two.test")).record is None  # §6.6.3 step 5
    zone.add_timeout("_dmarc.slow.test")
    assert (await discover_policy(resolver, "slow.test")).temperror


def test_header_from_domain() -> None:
    assert (
        header_from_domain(b"From: =?UTF-8?B?5byg5LiJ?= <a@Example.ORG>\r\n\r\nx") == "example.org"
    )
    assert header_from_domain(b"From: a@x.test\r\nFrom: b@y.test\r\n\r\n") is None
    assert header_from_domain(b"From: a@x.test, b@y.test\r\n\r\n") is None
    assert header_from_domain(b"To: a@x.test\r\n\r\n") is None


async def test_check_dmarc_permerror_on_two_authors() -> None:
    resolver = DnsResolver(MemoryTransport())
    r = await check_dmarc(resolver, b"From: a@x.test, b@y.test\r\n\r\n", None, [])
    assert r.result == "permerror"
