"""Authentication-Results rendering (RFC 8601) and the whole MailAuthenticator flow."""

from __future__ import annotations

from rongmail.services.dns import DnsResolver, MemoryTransport
from rongmail.services.mailauth import (
    Disposition,
    MailAuthenticator,
    authserv_id_of,
    build_authentication_results,
    generate_dkim_key,
    sign_dkim,
)
from rongmail.services.mailauth.spf import SpfResult, SpfVerdict


def test_none_and_quoting() -> None:
    assert build_authentication_results("mx.example.cn") == "mx.example.cn; none"
    evil = SpfVerdict(SpfResult.PASS, "mailfrom", "x.test", 'a;dkim=pass "x"@x.test', "192.0.2.1")
    value = build_authentication_results("mx.example.cn", spf=evil)
    assert value.count(";") == 2  # the authserv-id separator and the one inside quotes
    assert 'smtp.mailfrom="a;dkim=pass \\"x\\"@x.test"' in value
    assert "\n" not in value.replace("\r\n ", "")
    assert authserv_id_of(value) == "mx.example.cn"
    assert authserv_id_of("(c) mx.x.test 1; none") == "mx.x.test"


MSG = b"From: boss@corp.test\r\nTo: staff@example.cn\r\nSubject: pay\r\n\r\nwire money\r\n"


async def make() -> tuple[MailAuthenticator, MemoryTransport, bytes]:
    key = generate_dkim_key("corp.test", "s1", "ed25519-sha256")
    zone = (
        MemoryTransport()
        .add("corp.test", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
        .add("_dmarc.corp.test", "TXT", "v=DMARC1; p=reject")
        .add("_dmarc.soft.test", "TXT", "v=DMARC1; p=quarantine")
        .add(key.record_name, "TXT", key.txt)
    )
    signed = await sign_dkim(MSG, [key.key]) + MSG
    return MailAuthenticator(DnsResolver(zone), authserv_id="mx.example.cn"), zone, signed


async def test_authenticator_pass() -> None:
    auth, _zone, signed = await make()
    v = await auth.check(signed, ip="192.0.2.7", helo="mail.corp.test", mail_from="b@corp.test")
    assert (v.spf.result, [d.result for d in v.dkim], v.dmarc.result) == (
        SpfResult.PASS, ["pass"], "pass",
    )  # fmt: skip
    assert v.disposition is Disposition.ACCEPT and v.arc.result == "none"
    assert v.header.startswith("mx.example.cn;\r\n spf=pass smtp.mailfrom=b@corp.test;")
    assert "dkim=pass header.d=corp.test header.s=s1 header.a=ed25519-sha256" in v.header
    assert "dmarc=pass (p=reject dis=accept) header.from=corp.test" in v.header


async def test_authenticator_spoof_is_rejected_and_quarantine_is_junk() -> None:
    auth, _zone, _signed = await make()
    v = await auth.check(MSG, ip="203.0.113.9", helo="evil.test", mail_from="x@corp.test")
    assert v.spf.result is SpfResult.FAIL and v.dmarc.result == "fail"
    assert v.disposition is Disposition.REJECT
    soft = MSG.replace(b"corp.test", b"soft.test")
    v = await auth.check(soft, ip="203.0.113.9", helo="evil.test", mail_from="x@evil.test")
    assert v.disposition is Disposition.JUNK


async def test_unsigned_unsealed_fast_path_equals_the_full_evaluation(monkeypatch) -> None:
    """Without DKIM-Signature and ARC-Seal, ``check`` runs SPF alone; the verdict is what
    running verify_dkim and verify_arc beside it gives (forced here by declaring the message
    signed), and a DKIM-Signature still takes the full path."""
    import rongmail.services.mailauth as ma

    auth, _zone, signed = await make()
    args = {"ip": "203.0.113.9", "helo": "evil.test", "mail_from": "x@corp.test"}
    fast = await auth.check(MSG, **args)
    monkeypatch.setattr(ma, "signature_key_names", lambda message: ["forced"])
    full = await auth.check(MSG, **args)
    assert fast == full and fast.dkim == () and fast.arc == ma.ArcResult("none", 0)
    monkeypatch.undo()
    v = await auth.check(signed, ip="192.0.2.7", helo="mail.corp.test", mail_from="b@corp.test")
    assert [d.result for d in v.dkim] == ["pass"]
