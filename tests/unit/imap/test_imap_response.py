"""The response serializer (RFC 9051 §7, §4.3)."""

from datetime import datetime, timedelta, timezone

from rongmail.protocols.imap.proto import response as r
from rongmail.protocols.imap.proto.sequence import SequenceSet


def test_strings_quoted_or_literal() -> None:
    assert r.string("hello") == b'"hello"'
    assert r.string('a"b\\c') == b'"a\\"b\\\\c"'
    assert r.string("a\r\nb") == b"{4}\r\na\r\nb"
    assert r.string("发票") == b"{6}\r\n" + "发票".encode()
    assert r.string("发票", utf8=True) == '"发票"'.encode()
    assert r.string("x" * 2000).startswith(b"{2000}\r\n")
    assert r.string("a\x00b") == b'"ab"'


def test_render_values() -> None:
    value = [r.Atom("\\Seen"), None, 5, "x", b"raw", r.Literal8(b"\x00\x01")]
    assert r.render(value) == b'(\\Seen NIL 5 "x" {3}\r\nraw ~{2}\r\n\x00\x01)'


def test_mailbox_names() -> None:
    assert r.mailbox("发票/2024") == b'"&U9F5aA-/2024"'
    assert r.mailbox("发票/2024", utf8=True) == '"发票/2024"'.encode()
    assert r.mailbox("R&D") == b'"R&-D"'


def test_lines_cannot_be_injected() -> None:
    line = r.tagged("a1", "NO", "bad\r\n* OK injected")
    assert line.count(b"\r\n") == 1 and line.endswith(b"\r\n")
    assert r.tagged("a1", "OK", "done", code="READ-WRITE") == b"a1 OK [READ-WRITE] done\r\n"
    assert r.tagged("a", "NO", "没有权限") == b"a NO ????\r\n"
    assert r.tagged("a", "NO", "没有权限", utf8=True) == "a NO 没有权限\r\n".encode()
    assert r.untagged_status("BYE", "bye") == b"* BYE bye\r\n"
    assert r.continuation("Ready") == b"+ Ready\r\n"


def test_fetch_and_untagged() -> None:
    out = r.fetch(12, [("UID", 4), ("FLAGS", r.flags(["\\Seen"])), ("BODY[]", b"abc")])
    assert out == b"* 12 FETCH (UID 4 FLAGS (\\Seen) BODY[] {3}\r\nabc)\r\n"
    assert r.untagged(r.Atom("SEARCH"), 2, 84, 882) == b"* SEARCH 2 84 882\r\n"
    assert r.untagged(23, r.Atom("EXISTS")) == b"* 23 EXISTS\r\n"


def test_internal_date() -> None:
    when = datetime(1996, 7, 17, 2, 44, 25, tzinfo=timezone(-timedelta(hours=7)))
    assert r.internal_date(when) == "17-Jul-1996 02:44:25 -0700"
    assert r.internal_date(datetime(2024, 1, 2, 3, 4, 5)) == "02-Jan-2024 03:04:05 +0000"


def test_sequence_set_round_trip() -> None:
    assert str(SequenceSet.of([1, 2, 3, 7, 9, 10])) == "1:3,7,9:10"
    seq = SequenceSet.parse("4:*")
    assert list(seq.resolve(3)) == [(3, 4)]  # RFC 9051 §6.4.8 example with largest UID 3
    assert seq.select([1, 2, 3], 3) == [3]
