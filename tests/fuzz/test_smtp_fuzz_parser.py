"""Property tests of the sans-IO SMTP parser (hypothesis).

The central property is the SMTP-smuggling one (CVE-2023-51766 class): whatever octets a client
sends after 354, DATA ends exactly at the first ``<CRLF>.<CRLF>`` (the CRLF of the DATA line
counts), so no other octet sequence can end a message or start a second one.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rongmail.protocols.smtp.proto import (
    ChunkEnd,
    CommandLine,
    DataChunk,
    DataEnd,
    Event,
    Parser,
)

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Bytes biased towards the characters that matter for framing.
framing_bytes = st.lists(
    st.one_of(
        st.sampled_from([b"\r", b"\n", b".", b"\r\n", b"\r\n.", b".\r\n", b"\r\n.\r\n", b"a"]),
        st.binary(max_size=8),
    ),
    max_size=40,
).map(b"".join)


def drive(parser: Parser, pieces: list[bytes]) -> list[Event]:
    """Feed pieces like a session that accepts every DATA and refuses STARTTLS."""
    out: list[Event] = []
    for piece in pieces:
        events = parser.feed(piece)
        while events:
            out.extend(events)
            if not parser.blocked:
                break
            last = events[-1]
            if isinstance(last, CommandLine) and last.line.upper().startswith(b"DATA"):
                parser.accept_data()
            else:
                parser.resume()
            events = parser.feed(b"")
    return out


def normalise(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for e in events:
        if isinstance(e, DataChunk) and out and isinstance(out[-1], DataChunk):
            out[-1] = DataChunk(out[-1].data + e.data)
        elif not (isinstance(e, DataChunk) and not e.data):
            out.append(e)
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, prev = [], 0
    for p in points:
        pieces.append(data[prev:p])
        prev = p
    pieces.append(data[prev:])
    return pieces


@FAST
@given(framing_bytes, st.lists(st.integers(min_value=0), max_size=10))
def test_any_split_gives_the_same_events(body: bytes, cuts: list[int]) -> None:
    wire = b"EHLO x\r\nDATA\r\n" + body + b"\r\n.\r\nNOOP\r\nBDAT 3\r\nabcQUIT\r\n"
    whole = normalise(drive(Parser(max_line=512, data_chunk=1024), [wire]))
    pieces = normalise(drive(Parser(max_line=512, data_chunk=1024), split(wire, cuts)))
    assert whole == pieces


@FAST
@given(framing_bytes, st.lists(st.integers(min_value=0), max_size=6))
def test_data_ends_exactly_at_first_crlf_dot_crlf(body: bytes, cuts: list[int]) -> None:
    wire = body + b"\r\n.\r\n"
    end = (b"\r\n" + wire).find(b"\r\n.\r\n")  # index in the CRLF-prefixed stream
    parser = Parser()
    parser.feed(b"DATA\r\n")
    parser.accept_data()
    events = normalise(drive(parser, split(wire, cuts)))
    ends = [i for i, e in enumerate(events) if isinstance(e, DataEnd)]
    assert ends, "DATA must end at the terminator"
    first = ends[0]
    assert not any(isinstance(e, CommandLine) for e in events[:first])
    region = (b"\r\n" + wire)[2 : end + 2]  # message octets incl. the final CRLF
    lines_clean = region.count(b"\r\n") == region.count(b"\n") == region.count(b"\r")
    end_event = events[first]
    assert isinstance(end_event, DataEnd)
    assert end_event.bare_line_ending == (not lines_clean)
    if lines_clean:
        expected = b"\r\n".join(
            ln[1:] if ln.startswith(b".") else ln for ln in region.split(b"\r\n")
        )
        content = events[0].data if first == 1 and isinstance(events[0], DataChunk) else b""
        assert content == expected
    # what follows the terminator is parsed as commands, exactly as a fresh parser would
    rest = (b"\r\n" + wire)[end + 5 :]
    assert events[first + 1 :] == normalise(drive(Parser(), [rest]))


@FAST
@given(st.binary(max_size=3000), st.lists(st.integers(min_value=0), max_size=8))
def test_buffer_stays_bounded(junk: bytes, cuts: list[int]) -> None:
    parser = Parser(max_line=512, data_chunk=1024)
    for piece in split(b"DATA\r\n" + junk, cuts):
        drive(parser, [piece])
        assert parser.buffered <= 1024 + len(piece) + 5


@FAST
@given(
    st.lists(st.binary(max_size=300), min_size=1, max_size=5),
    st.lists(st.integers(min_value=0), max_size=8),
)
def test_bdat_roundtrip(chunks: list[bytes], cuts: list[int]) -> None:
    wire = (
        b"".join(
            b"BDAT %d%s\r\n" % (len(c), b" LAST" if i == len(chunks) - 1 else b"") + c
            for i, c in enumerate(chunks)
        )
        + b"QUIT\r\n"
    )
    events = drive(Parser(), split(wire, cuts))
    got = b"".join(e.data for e in events if isinstance(e, DataChunk))
    assert got == b"".join(chunks)
    assert sum(isinstance(e, ChunkEnd) for e in events) == len(chunks)
    assert events[-1] == CommandLine(b"QUIT")


@FAST
@given(st.binary(max_size=2000))
def test_parser_never_raises(junk: bytes) -> None:
    drive(Parser(max_line=512, data_chunk=1024), [junk, junk])
