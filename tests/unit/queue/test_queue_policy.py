"""Pure parts of the queue: retry timing, DSN building, MTA-STS policies, DANE, routes."""

from __future__ import annotations

import email
import email.policy
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rongmail.config.queue import QueueSettings, RetrySettings, RouteSettings
from rongmail.queue import dane
from rongmail.queue.agents.relay import find_route
from rongmail.queue.agents.smtp_client import enhanced_status, state_of
from rongmail.queue.dsn import DsnRecipient, build_dsn, wants_dsn, xtext_decode
from rongmail.queue.mta_sts import PolicyError, StsPolicy, parse_policy, parse_txt
from rongmail.queue.retry import backoff, delay_notice_due, next_attempt
from rongmail.services.dns import TlsaRecord


def test_backoff_schedule_and_lifetime() -> None:
    s = RetrySettings.model_validate({"schedule": [60, 600, 3600], "jitter": 0})
    assert [backoff(n, s) for n in (1, 2, 3, 4, 9)] == [60, 600, 3600, 3600, 3600]
    s_j = RetrySettings.model_validate({"schedule": [1000], "jitter": 0.1})
    assert backoff(1, s_j, rng=lambda: 0.0) == 900 and backoff(1, s_j, rng=lambda: 1.0) == 1100
    created, expires = 0, 5 * 86400
    assert next_attempt(1, created, expires, 100, s) == 160
    assert next_attempt(5, created, expires, expires - 10, s) == expires  # one last try
    assert next_attempt(5, created, expires, expires, s) is None
    assert not delay_notice_due(0, 3600, RetrySettings.model_validate({}))
    assert delay_notice_due(0, 4 * 3600, RetrySettings.model_validate({}))


def test_smtp_reply_mapping() -> None:
    assert enhanced_status(550, "5.1.1 <x@y>: no such user") == "5.1.1"
    assert enhanced_status(451, "try later") == "4.0.0"
    assert enhanced_status(550, "4.1.1 inconsistent") == "5.0.0"
    assert [state_of(c) for c in (250, 421, 554)] == ["delivered", "deferred", "failed"]


def test_wants_dsn_rules() -> None:
    assert wants_dsn(None, "failed", "a@x.cn") and wants_dsn(None, "delayed", "a@x.cn")
    assert not wants_dsn(None, "delivered", "a@x.cn")
    assert wants_dsn("SUCCESS,FAILURE", "delivered", "a@x.cn")
    assert not wants_dsn("NEVER", "failed", "a@x.cn")
    assert not wants_dsn("FAILURE", "failed", "")  # never bounce a bounce
    assert xtext_decode("rfc822;a+2Bb@x.cn") == "rfc822;a+b@x.cn"


def test_dsn_structure() -> None:
    original = b"From: a@x.cn\r\nSubject: hi\r\nMessage-ID: <1@x.cn>\r\n\r\nsecret body\r\n"
    raw = build_dsn(
        kind="failed", reporting_mta="mx.rong.test", to="a@x.cn", original=original,
        arrival=1_700_000_000, envid="ENV+2B1", locale="zh-CN",
        recipients=[DsnRecipient("bob@y.cn", "failed", "5.1.1", original_recipient="rfc822;Bob@y.cn",
                                 remote_mta="mx.y.cn", diagnostic="550 5.1.1 no such user",
                                 last_attempt=1_700_000_100)],
    )  # fmt: skip
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["Auto-Submitted"] == "auto-replied" and "a@x.cn" in str(msg["To"])
    assert "退信" in str(msg["Subject"]) and "Undelivered" in str(msg["Subject"])
    human, status, returned = msg.iter_parts()
    text = human.get_content()
    assert "mx.rong.test" in text and "550 5.1.1 no such user" in text
    assert status.get_content_type() == "message/delivery-status"
    body = raw.decode()
    for line in ("Reporting-MTA: dns; mx.rong.test", "Original-Envelope-Id: ENV+1",
                 "Final-Recipient: rfc822; bob@y.cn", "Original-Recipient: rfc822; Bob@y.cn",
                 "Action: failed", "Status: 5.1.1", "Remote-MTA: dns; mx.y.cn",
                 "Diagnostic-Code: smtp; 550 5.1.1 no such user"):  # fmt: skip
        assert line in body
    assert returned.get_content_type() == "text/rfc822-headers"
    assert b"secret body" not in raw  # RET=HDRS by default
    full = build_dsn(kind="failed", reporting_mta="m", to="a@x.cn", original=original,
                     arrival=0, recipients=[DsnRecipient("b@y.cn", "failed", "5.0.0")],
                     ret_full=True)  # fmt: skip
    assert b"secret body" in full and b"message/rfc822" in full
    utf8 = build_dsn(kind="delayed", reporting_mta="m", to="a@x.cn", original=original,
                     arrival=0, recipients=[DsnRecipient("张三@例子.中国", "delayed", "4.4.1",
                                                         will_retry_until=86400)])  # fmt: skip
    assert b"message/global-delivery-status" in utf8 and b"Will-Retry-Until" in utf8


def test_mta_sts_policy_parse_and_match() -> None:
    p = parse_policy(
        "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.cn\r\nmx: *.mail.example.cn\r\nmax_age: 86400\r\n"
    )
    assert p == StsPolicy("enforce", ("mx1.example.cn", "*.mail.example.cn"), 86400)
    assert p.matches("MX1.example.cn.") and p.matches("a.mail.example.cn")
    assert not p.matches("a.b.mail.example.cn") and not p.matches("mail.example.cn")
    for bad in ("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1",
                "version: STSv1\nmode: block\nmx: a\nmax_age: 1",
                "version: STSv1\nmode: enforce\nmax_age: 1",
                "version: STSv1\nmode: enforce\nmx: a\nmax_age: 99999999999"):  # fmt: skip
        with pytest.raises(PolicyError):
            parse_policy(bad)
    assert parse_txt(["v=STSv1; id=20261127T01;"]) == "20261127T01"
    assert parse_txt(["v=STSv1; id=a", "v=STSv1; id=b"]) is None
    assert parse_txt(["v=spf1 -all"]) is None


def _cert() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "mx.dane.test")])
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.DER)


def test_dane_leaf_matching() -> None:
    der, other = _cert(), _cert()
    spki_rec = dane.tlsa_for_cert(der)
    assert dane.verify_leaf(der, [spki_rec]) is True
    assert dane.verify_leaf(other, [spki_rec]) is False
    full = TlsaRecord(3, 0, 1, hashlib.sha256(der).digest())
    assert dane.verify_leaf(der, [full]) is True
    assert dane.verify_leaf(der, [TlsaRecord(3, 0, 0, der)]) is True
    ta_only = [TlsaRecord(2, 0, 1, b"x" * 32)]
    assert dane.verify_leaf(der, ta_only) is None  # mandatory TLS, no EE check possible
    assert dane.usable([TlsaRecord(1, 0, 1, b""), TlsaRecord(3, 2, 1, b"")]) == []


def test_routes() -> None:
    settings = QueueSettings.model_validate({"routes": [
        {"name": "overseas", "match": ["*.com", "gmail.com"], "host": "relay.hk.test"},
        {"name": "partner", "match": ["*@partner.cn"], "host": "10.0.0.1", "port": 25,
         "tls": "none", "source_ip": "127.0.0.2"},
    ]})  # fmt: skip
    routes = settings.routes
    assert find_route(routes, "x@gmail.com").name == "overseas"  # type: ignore[union-attr]
    assert find_route(routes, "x@mail.google.com").name == "overseas"  # type: ignore[union-attr]
    assert find_route(routes, "CEO@partner.cn").name == "partner"  # type: ignore[union-attr]
    assert find_route(routes, "x@qq.cn") is None
    assert settings.limit_for("qq.com").concurrency == 2
    assert settings.limit_for("example.cn").concurrency == settings.destination_concurrency
    with pytest.raises(ValueError):
        QueueSettings.model_validate({"routes": [{"name": "a", "match": ["*"], "host": "h"}] * 2})
    assert "secret" not in repr(RouteSettings.model_validate(
        {"name": "r", "match": ["*"], "host": "h", "password": "secret"}))  # fmt: skip
