"""Outgoing message construction round-trips through our own parser."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rongmail.mime.build import (
    OutgoingPart,
    build_message,
    build_report,
    encode_header_text,
    ensure_date_and_message_id,
    make_message_id,
)
from rongmail.mime.encoded_words import decode_encoded_words
from rongmail.mime.model import Addr
from rongmail.mime.parse import parse_message


def test_make_message_id() -> None:
    a, b = make_message_id("example.com"), make_message_id("example.com")
    assert a != b
    assert re.fullmatch(r"<[a-z0-9.]+@example\.com>", a)
    assert make_message_id("例子.中国").endswith("@xn--fsqu00a.xn--fiqs8s>")


def test_encode_header_text_never_splits_characters() -> None:
    text = "很长的中文主题" * 10 + "🙂"
    enc = encode_header_text(text)
    assert all(len(w) <= 75 for w in re.findall(r"=\?[^ ]*?\?=", enc))
    assert decode_encoded_words(enc.replace("\r\n", "")) == text
    assert encode_header_text("plain") == "plain"


def test_build_round_trip() -> None:
    when = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    raw = build_message(
        from_=Addr("张三", "zs@example.com"),
        to=[Addr("Li, Si", "ls@example.com")],
        cc=[Addr("", "cc@example.com")],
        subject="季度报告 Q1",
        text="您好，\n附件是报告。",
        html="<p>您好</p>",
        domain="example.com",
        in_reply_to="parent@example.com",
        references=["root@example.com", "parent@example.com"],
        attachments=[OutgoingPart("application/pdf", b"%PDF-1.4\n", filename="报告 2024.pdf")],
        date=when,
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    m = parse_message(raw)
    assert m.defects == []
    assert m.subject == "季度报告 Q1"
    assert m.from_ == [Addr("张三", "zs@example.com")]
    assert m.to == [Addr("Li, Si", "ls@example.com")]
    assert m.date == when
    assert m.text_body == "您好，\n附件是报告。"
    assert m.html_body == "<p>您好</p>"
    assert m.in_reply_to == ["parent@example.com"]
    assert m.references == ["root@example.com", "parent@example.com"]
    (att,) = m.attachments
    assert (att.filename, att.content_type, att.size) == ("报告 2024.pdf", "application/pdf", 9)


def test_ensure_date_and_message_id() -> None:
    raw = b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    out = ensure_date_and_message_id(raw, domain="example.com")
    assert out.endswith(raw)
    m = parse_message(out)
    assert m.date is not None and m.message_id and m.message_id.endswith("@example.com")
    assert ensure_date_and_message_id(out, domain="example.com") == out
    lf = ensure_date_and_message_id(b"Subject: y\n\nb\n", domain="e.com")
    assert b"\r" not in lf


def test_report() -> None:
    original = b"From: a@example.com\r\nSubject: lost\r\n\r\nsecret body\r\n"
    raw = build_report(
        from_=Addr("Mail Delivery System", "mailer-daemon@example.com"),
        to=[Addr("", "a@example.com")],
        subject="Undelivered Mail Returned to Sender",
        text="Your message could not be delivered.",
        domain="example.com",
        report_type="delivery-status",
        report_content_type="message/delivery-status",
        report_body=b"Reporting-MTA: dns; example.com\n\nFinal-Recipient: rfc822; x@y\n"
        b"Action: failed\nStatus: 5.1.1\n",
        original=original,
    )
    m = parse_message(raw)
    types = [p.mime_type for p in m.body.walk()]
    assert types == [
        "multipart/report",
        "text/plain",
        "message/delivery-status",
        "text/rfc822-headers",
    ]
    assert m.body.params["report-type"] == "delivery-status"
    assert b"secret body" not in raw
