"""Sans-IO parser: framing, DATA termination and unstuffing, BDAT, barriers, bounds
(RFC 5321 §2.3.8, §4.1.1.4, §4.5.2, §4.5.3.1.4; RFC 3030 §2; RFC 3207 §4.2)."""

from __future__ import annotations

import pytest

from rongmail.protocols.smtp.proto import (
    ChunkEnd,
    CommandLine,
    DataChunk,
    DataEnd,
    InvalidLineEnding,
    LineEndingCheck,
    LineTooLong,
    Parser,
)


def data_of(events: list) -> bytes:  # type: ignore[type-arg]
    return b"".join(e.data for e in events if isinstance(e, DataChunk))


def test_commands_and_data_barrier() -> None:
    p = Parser()
    ev = p.feed(b"EHLO a\r\nDATA\r\nbody\r\n")
    assert ev == [CommandLine(b"EHLO a"), CommandLine(b"DATA")]
    assert p.blocked and p.feed(b"more") == []
    p.accept_data()
    ev = p.feed(b"")
    assert ev == [DataChunk(b"body\r\n")]


def test_data_refused_resumes_commands() -> None:
    p = Parser()
    p.feed(b"DATA\r\nNOOP\r\n")
    p.resume()
    assert p.feed(b"") == [CommandLine(b"NOOP")]


@pytest.mark.parametrize(
    ("wire", "content", "bare"),
    [
        (b".\r\n", b"", False),
        (b"a\r\n.\r\n", b"a\r\n", False),
        (b"..a\r\n...\r\n.\r\n", b".a\r\n..\r\n", False),
        (b"a\n.\n\r\n.\r\n", b"a\n.\n\r\n", True),  # <LF>.<LF> is content
        (b"a\n.\r\n\r\n.\r\n", b"a\n.\r\n\r\n", True),  # <LF>.<CR><LF> is content
        (b"a\r.\r.\r\n", b"", None),  # <CR>.<CR> never ends DATA
        (b"a\n.\n.\r\n", b"", None),  # ".<CR><LF>" after a bare LF is no terminator
        (b"a\r\n.\n.\r\n", b"", None),
        (b"\r\n.\r\n", b"\r\n", False),
    ],
)
def test_data_termination(wire: bytes, content: bytes, bare: bool | None) -> None:
    p = Parser()
    p.feed(b"DATA\r\n")
    p.accept_data()
    events = p.feed(wire + b"QUIT\r\n") if bare is not None else p.feed(wire)
    if bare is None:  # the CR-only variant did not terminate at all
        assert not any(isinstance(e, DataEnd) for e in events)
        events += p.feed(b"\r\n.\r\n")
        assert [e for e in events if isinstance(e, DataEnd)] == [DataEnd(True)]
        return
    ends = [e for e in events if isinstance(e, DataEnd)]
    assert ends == [DataEnd(bare)]
    assert data_of(events) == content or bare
    assert events[-1] == CommandLine(b"QUIT")


def test_data_bytewise_equals_whole() -> None:
    wire = b"l1\r\n..l2\r\n.x\r\nend\r\n.\r\nNOOP\r\n"
    p = Parser()
    p.feed(b"DATA\r\n")
    p.accept_data()
    events = []
    for i in range(len(wire)):
        events += p.feed(wire[i : i + 1])
    assert data_of(events) == b"l1\r\n.l2\r\nx\r\nend\r\n"
    assert events[-2:] == [DataEnd(False), CommandLine(b"NOOP")]


def test_long_data_line_streams_with_bounded_buffer() -> None:
    p = Parser(data_chunk=1024)
    p.feed(b"DATA\r\n")
    p.accept_data()
    total = 0
    for _ in range(100):
        total += len(data_of(p.feed(b"." + b"x" * 999)))
        assert p.buffered <= 2048
    events = p.feed(b"\r\n.\r\n")
    total += len(data_of(events))
    assert total == 100 * 1000 - 1 + 2  # the very first dot is unstuffed
    assert events[-1] == DataEnd(False)


def test_line_too_long_and_recovery() -> None:
    p = Parser(max_line=512)
    ev = p.feed(b"X" * 600)
    assert ev == [] and p.buffered <= 600
    ev = p.feed(b"Y" * 10_000)
    assert p.buffered == 0
    assert p.feed(b"tail\r\nNOOP\r\n") == [LineTooLong(), CommandLine(b"NOOP")]


def test_bare_line_endings_in_commands() -> None:
    p = Parser()
    assert p.feed(b"NOOP\nNO\rOP\r\nNOOP\r\n") == [
        InvalidLineEnding(),
        InvalidLineEnding(),
        CommandLine(b"NOOP"),
    ]


def test_bdat_chunks() -> None:
    p = Parser()
    ev = p.feed(b"BDAT 5\r\nab\r\nc")
    assert ev == [CommandLine(b"BDAT 5"), DataChunk(b"ab\r\nc"), ChunkEnd()]
    ev = p.feed(b"BDAT 6 LAST\r\nDA")
    assert ev == [CommandLine(b"BDAT 6 LAST"), DataChunk(b"DA")]
    ev = p.feed(b"TA\r\nBDAT 0 LAST\r\nQUIT\r\n")
    assert ev == [
        DataChunk(b"TA\r\n"),
        ChunkEnd(),
        CommandLine(b"BDAT 0 LAST"),
        ChunkEnd(),
        CommandLine(b"QUIT"),
    ]


def test_bdat_malformed_is_just_a_line() -> None:
    assert Parser().feed(b"BDAT x\r\nNOOP\r\n") == [CommandLine(b"BDAT x"), CommandLine(b"NOOP")]


def test_starttls_barrier_and_discard() -> None:
    p = Parser()
    assert p.feed(b"STARTTLS\r\nMAIL FROM:<a@b>\r\n") == [CommandLine(b"STARTTLS")]
    assert p.discard_buffer() == len(b"MAIL FROM:<a@b>\r\n")
    assert p.feed(b"") == []


def test_line_ending_check() -> None:
    c = LineEndingCheck()
    for piece in (b"a\r", b"\nb\r\n", b"c\r", b"\n"):
        c.update(piece)
    assert c.finish()
    for bad in ([b"a\n"], [b"a\r", b"b"], [b"a\r"], [b"\r\r\n"]):
        c = LineEndingCheck()
        for piece in bad:
            c.update(piece)
        assert not c.finish(), bad


def test_constructor_bounds() -> None:
    with pytest.raises(ValueError):
        Parser(max_line=100)
