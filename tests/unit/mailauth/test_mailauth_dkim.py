"""DKIM signing and verification round trips with generated keys and an in-memory DNS."""

from __future__ import annotations

import pytest

from rongmail.services.dns import DnsResolver, MemoryTransport
from rongmail.services.mailauth import DkimSigner, generate_dkim_key, sign_dkim, verify_dkim

MSG = (
    b"From: Zhang San <zhang@example.org>\r\nTo: li@example.net\r\n"
    b"Subject: =?UTF-8?B?5rWL6K+V?=\r\nDate: Fri, 27 Nov 2026 08:00:00 +0800\r\n"
    b"Message-ID: <1@example.org>\r\n\r\nHello\r\n"
)


@pytest.fixture(scope="module")
def keys():
    return (
        generate_dkim_key("example.org", "rsa1", "rsa-sha256"),
        generate_dkim_key("example.org", "ed1", "ed25519-sha256"),
    )


def zone_for(*generated) -> MemoryTransport:
    zone = MemoryTransport()
    for g in generated:
        zone.add(g.record_name, "TXT", [g.txt[i : i + 255] for i in range(0, len(g.txt), 255)])
    return zone


async def test_rsa_and_ed25519_together(keys) -> None:
    rsa, ed = keys
    headers = await sign_dkim(MSG, [rsa.key, ed.key])
    assert headers.count(b"DKIM-Signature:") == 2
    assert b"a=rsa-sha256" in headers and b"a=ed25519-sha256" in headers
    results = await verify_dkim(DnsResolver(zone_for(rsa, ed)), headers + MSG)
    assert [(r.result, r.algorithm, r.selector) for r in results] == [
        ("pass", "rsa-sha256", "rsa1"),
        ("pass", "ed25519-sha256", "ed1"),
    ]


async def test_signer_by_domain_and_tamper(keys) -> None:
    signer = DkimSigner({"Example.ORG": [k.key for k in keys]})
    signed = await signer.sign(MSG, "example.org")
    assert await signer.sign(MSG, "other.example") == MSG
    resolver = DnsResolver(zone_for(*keys))
    tampered = signed.replace(b"Hello", b"Hellp")
    assert {r.result for r in await verify_dkim(resolver, tampered)} == {"fail"}
    forged_from = signed.replace(b"zhang@example.org", b"boss@example.org")
    assert {r.result for r in await verify_dkim(resolver, forged_from)} == {"fail"}


async def test_missing_key_is_permerror_and_timeout_is_temperror(keys) -> None:
    rsa, ed = keys
    signed = await sign_dkim(MSG, [rsa.key, ed.key]) + MSG
    zone = zone_for(rsa).add_timeout(ed.record_name)
    results = await verify_dkim(DnsResolver(zone), signed)
    assert [r.result for r in results] == ["pass", "temperror"]
    results = await verify_dkim(DnsResolver(MemoryTransport()), signed)
    assert [r.result for r in results] == ["permerror", "permerror"]


async def test_unsigned_message_has_no_results() -> None:
    zone = MemoryTransport()
    assert await verify_dkim(DnsResolver(zone), MSG) == []
    assert zone.queries == []


async def test_rsa_key_below_minimum_does_not_pass() -> None:
    """RFC 8301 §3.2 sets the floor at 1024 bits; a stricter operator floor is honoured."""
    small = generate_dkim_key("example.org", "small", "rsa-sha256", rsa_bits=1024)
    signed = await sign_dkim(MSG, [small.key]) + MSG
    resolver = DnsResolver(zone_for(small))
    assert [r.result for r in await verify_dkim(resolver, signed)] == ["pass"]
    results = await verify_dkim(resolver, signed, minkey=2048)
    assert results[0].result in ("fail", "permerror")


def test_key_record_text(keys) -> None:
    rsa, ed = keys
    assert rsa.txt.startswith("v=DKIM1; k=rsa; p=MIIB")
    assert ed.txt.startswith("v=DKIM1; k=ed25519; p=") and len(ed.txt.split("p=")[1]) == 44
    line = rsa.zone_line()
    assert line.startswith("rsa1._domainkey.example.org. 3600 IN TXT (")
    assert all(len(part) <= 255 for part in line.split('"')[1::2])


async def test_a_bad_key_is_permerror_every_time() -> None:
    """The key check is memoized per record text: the answer (and its reason) repeats."""
    key = generate_dkim_key("example.org", "bad", "rsa-sha256")
    signed = await sign_dkim(MSG, [key.key]) + MSG
    zone = MemoryTransport().add(key.record_name, "TXT", "v=DKIM1; k=rsa; p=AAAA")
    first = await verify_dkim(DnsResolver(zone), signed)
    again = await verify_dkim(DnsResolver(zone), signed)
    assert first == again and first[0].result == "permerror"
    assert first[0].reason.startswith("bad key: ")


def test_split_header_section_answers_each_message() -> None:
    """The last split is reused for the same bytes object only."""
    from rongmail.services.mailauth.dkim import split_header_section

    a = b"From: a@x.test\r\nSubject: one\r\n two\r\n\r\nbody"
    b = b"To: b@x.test\n\nbody"
    for _ in range(2):
        assert split_header_section(a) == ((b"From", b" a@x.test"), (b"Subject", b" one\r\n two"))
        assert split_header_section(b) == ((b"To", b" b@x.test"),)
    buf = bytearray(a)
    assert split_header_section(buf)[0] == (b"From", b" a@x.test")
    buf[:4] = b"Tttt"
    assert split_header_section(buf)[0] == (b"Tttt", b" a@x.test")  # mutable: never reused
