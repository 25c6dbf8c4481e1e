"""The sans-IO POP3 parser: bytes in, events out (RFC 1939 §3, RFC 2449 §4)."""

from __future__ import annotations

from rongmail.protocols.pop3.proto.parser import BadLine, Command, Parser, parse_line


def test_commands_and_arguments() -> None:
    p = Parser()
    events = p.feed(b"user zhang@demo.test\r\nPASS  two  spaces \r\nList\nTOP 1 10\r\n")
    assert events == [
        Command("USER", ("zhang@demo.test",), "zhang@demo.test", "user zhang@demo.test"),
        Command("PASS", ("two", "spaces"), " two  spaces ", "PASS  two  spaces "),
        Command("LIST", (), "", "List"),
        Command("TOP", ("1", "10"), "1 10", "TOP 1 10"),
    ]
    assert isinstance(events[1], Command)
    assert events[1].rest == " two  spaces "  # PASS keeps spaces (RFC 1939 §7)


def test_split_across_feeds() -> None:
    p = Parser()
    assert p.feed(b"ST") == []
    assert p.feed(b"AT\r") == []
    assert p.feed(b"\nNO") == [parse_line(b"STAT")]
    assert p.buffered == 2


def test_bad_lines() -> None:
    assert parse_line(b"") == BadLine("syntax", "")
    assert parse_line(b"AB") == BadLine("syntax", "AB")
    assert parse_line(b"LISTS") == BadLine("syntax", "LISTS")
    assert parse_line(b"L1ST") == BadLine("syntax", "L1ST")
    assert parse_line(b"USER \xff") == BadLine("encoding")
    assert parse_line(b"US\x00R") == BadLine("encoding")
    # a base64 SASL response is a BadLine whose text the session still reads
    assert parse_line(b"AGZvbwBiYXI=") == BadLine("syntax", "AGZvbwBiYXI=")


def test_too_long_line_is_reported_once_and_skipped() -> None:
    p = Parser(max_line=16)
    assert p.feed(b"X" * 40) == [BadLine("too_long")]
    assert p.buffered == 0
    assert p.feed(b"Y" * 40) == []
    assert p.feed(b"\r\nNOOP\r\n") == [parse_line(b"NOOP")]
    # a complete over-long line in one chunk
    assert p.feed(b"USER " + b"z" * 20 + b"\r\nQUIT\r\n") == [BadLine("too_long"),
                                                             parse_line(b"QUIT")]
    # exactly max_line including CRLF is fine
    assert p.feed(b"USER 123456789\r\n") == [parse_line(b"USER 123456789")]


def test_take_buffered() -> None:
    p = Parser()
    p.feed(b"STLS\r\nCAPA")
    assert p.take_buffered() == b"CAPA"
    assert p.feed(b"\r\n") == [BadLine("syntax", "")]
