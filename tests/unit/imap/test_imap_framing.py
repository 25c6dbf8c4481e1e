"""Framing, limits and modes of the sans-IO parser (RFC 9051 §4.3, RFC 7888)."""

from rongmail.protocols.imap.proto import commands as c
from rongmail.protocols.imap.proto.events import (
    ContinuationRequest,
    IdleDone,
    Rejected,
    SaslResponse,
)
from rongmail.protocols.imap.proto.parser import CommandParser, Limits


def test_byte_at_a_time_equals_whole() -> None:
    data = b'a1 LOGIN {5}\r\nalice "pw"\r\na2 SELECT INBOX\r\na3 APPEND INBOX {3+}\r\nabc\r\n'
    whole = CommandParser().feed(data)
    p = CommandParser()
    pieces = []
    for i in range(len(data)):
        pieces.extend(p.feed(data[i : i + 1]))
    assert pieces == whole
    assert [type(e) for e in whole] == [ContinuationRequest, c.Login, c.Select, c.Append]


def test_sync_literal_waits_for_continuation() -> None:
    p = CommandParser()
    assert p.feed(b"a LOGIN {3}\r\n") == [ContinuationRequest()]
    assert p.feed(b"bob") == []
    assert p.feed(b" {2}\r\n") == [ContinuationRequest()]
    assert p.feed(b"pw\r\n") == [c.Login("a", "bob", "pw")]


def test_crlf_inside_literal_is_data() -> None:
    p = CommandParser()
    [cmd] = p.feed(b"a APPEND INBOX {6+}\r\nx\r\ny\r\n\r\n")
    assert isinstance(cmd, c.Append) and cmd.messages[0].data == b"x\r\ny\r\n"


def test_too_large_sync_literal_rejected_without_continuation() -> None:
    p = CommandParser(Limits(max_literal=10))
    [ev] = p.feed(b"t LOGIN {11}\r\n")
    assert ev == Rejected("t", "imap.bad.literal_too_large")
    # The client did not send the literal; the next command parses normally.
    assert p.feed(b"u NOOP\r\n") == [c.Noop("u")]


def test_too_large_append_is_no_toobig() -> None:
    p = CommandParser(Limits(max_append=10))
    [ev] = p.feed(b"t APPEND INBOX {11}\r\n")
    assert ev == Rejected("t", "imap.no.too_big", status="NO", code="TOOBIG")


def test_too_large_nonsync_literal_is_discarded() -> None:
    # RFC 7888 §4: the server reads and discards the literal, then answers.
    p = CommandParser(Limits(max_append=10))
    evs = p.feed(b"t APPEND INBOX {20+}\r\n" + b"x" * 20 + b" {3+}\r\nabc\r\nu NOOP\r\n")
    assert evs == [Rejected("t", "imap.no.too_big", status="NO", code="TOOBIG"), c.Noop("u")]


def test_overlong_line_skipped_with_bounded_memory() -> None:
    p = CommandParser(Limits(max_line=100))
    assert p.feed(b"t1 SEARCH TEXT " + b"x" * 150) == []
    assert p.buffered <= 1
    for _ in range(100):
        assert p.feed(b"y" * 1000) == []
        assert p.buffered <= 1
    assert p.feed(b"\r\nt2 NOOP\r\n") == [Rejected("t1", "imap.bad.line_too_long"), c.Noop("t2")]


def test_overlong_line_in_one_chunk() -> None:
    p = CommandParser(Limits(max_line=100))
    evs = p.feed(b"t1 NOOP " + b"x" * 200 + b"\r\nt2 NOOP\r\n")
    assert evs == [Rejected("t1", "imap.bad.line_too_long"), c.Noop("t2")]


def test_overlong_line_ending_in_nonsync_literal() -> None:
    p = CommandParser(Limits(max_line=50))
    evs = p.feed(b"t1 LOGIN " + b"x" * 100 + b" {4+}\r\nab\r\n rest\r\nt2 NOOP\r\n")
    assert evs == [Rejected("t1", "imap.bad.line_too_long"), c.Noop("t2")]


def test_pipelining_cap_and_resume() -> None:
    p = CommandParser(Limits(max_pipelined=3))
    evs = p.feed(b"".join(b"a%d NOOP\r\n" % i for i in range(7)))
    assert len(evs) == 3
    assert len(p.feed(b"")) == 3
    assert p.feed(b"") == [c.Noop("a6")]
    assert p.feed(b"") == []


def test_idle_done_barrier() -> None:
    p = CommandParser()
    assert p.feed(b"a IDLE\r\nDONE\r\nb NOOP\r\n") == [c.Idle("a")]
    p.expect_idle_done()
    assert p.feed(b"") == [IdleDone(True), c.Noop("b")]
    p.expect_idle_done()
    assert p.feed(b"nope\r\n") == [IdleDone(False)]


def test_sasl_exchange() -> None:
    p = CommandParser()
    assert p.feed(b"a AUTHENTICATE PLAIN\r\n") == [c.Authenticate("a", "PLAIN")]
    p.expect_sasl_response()
    assert p.feed(b"AGJvYgBwdw==\r\n") == [SaslResponse(b"\x00bob\x00pw")]
    p.expect_sasl_response()
    assert p.feed(b"*\r\n") == [SaslResponse(cancelled=True)]
    p.expect_sasl_response()
    assert p.feed(b"!!\r\n") == [SaslResponse(valid=False)]


def test_starttls_drops_injected_plaintext() -> None:
    p = CommandParser()
    assert p.feed(b"a STARTTLS\r\nb LOGIN evil x\r\n") == [c.StartTls("a")]
    assert p.take_buffered() == b"b LOGIN evil x\r\n"
    assert p.feed(b"") == []


def test_untagged_garbage_is_star_bad() -> None:
    p = CommandParser()
    [ev] = p.feed(b"\r\n")
    assert isinstance(ev, Rejected) and ev.tag is None
    [ev] = p.feed(b"+x NOOP\r\n")
    assert isinstance(ev, Rejected) and ev.tag is None
    [ev] = p.feed(b"\x00\xff\r\n")
    assert isinstance(ev, Rejected) and ev.tag is None
