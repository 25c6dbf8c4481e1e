"""Hypothesis fuzzing of the sans-IO IMAP command parser (issue 4, item 5).

Properties: whatever the bytes and however they are split, :meth:`CommandParser.feed` never
raises, always terminates, keeps its buffer bounded, and yields the same events for any split.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rongmail.protocols.imap.proto import commands as c
from rongmail.protocols.imap.proto.events import Event, IdleDone, Rejected, SaslResponse
from rongmail.protocols.imap.proto.parser import CommandParser, Limits

LIMITS = Limits(max_line=200, max_literal=64, max_command=512, max_append=128, max_pipelined=4)

_TOKENS = [
    b"a1", b"A2", b" ", b"\r\n", b"UID", b"FETCH", b"STORE", b"SEARCH", b"SELECT", b"APPEND",
    b"LOGIN", b"LIST", b"STATUS", b"SORT", b"THREAD", b"IDLE", b"AUTHENTICATE", b"ENABLE",
    b"1:*", b"$", b"*", b"0", b"4294967296", b"(", b")", b"[", b"]", b"<0.10>", b"BODY.PEEK",
    b"BODY", b"BINARY", b"HEADER.FIELDS", b"MIME", b"{3}\r\nabc", b"{3+}\r\nabc", b"~{2+}\r\n\x00x",
    b"{99999999999}\r\n", b"{5+}\r\n", b'"q\\"x"', b'"', b"\\", b"INBOX", b"&U9F5aA-", b"&Jjo!",
    b"CHARSET", b"UTF-8", b"GBK", b"OR", b"NOT", b"TEXT", "发票".encode(), b"\xff", b"\x00",
    b"FLAGS", b"+FLAGS.SILENT", b"\\Seen", b"(CHANGEDSINCE 5 VANISHED)", b"RETURN", b"MIN",
    b"QRESYNC", b"(1 2 1:3 (1 2))", b"DONE", b"*\r\n", b"1-Feb-1994", b'"07-Feb-1994 21:52:25 -0800"',
]

tokens = st.lists(st.sampled_from(_TOKENS), max_size=40).map(b"".join)
noise = st.binary(max_size=400)
streams = st.one_of(tokens, noise, st.lists(st.one_of(tokens, noise), max_size=4).map(b"".join))


def _drain(parser: CommandParser, chunks: list[bytes]) -> list[Event]:
    out: list[Event] = []
    for chunk in chunks:
        events = parser.feed(chunk)
        while events:
            out.extend(events)
            # Play the session's part for the mode-switching commands.
            last = events[-1]
            if isinstance(last, c.Idle):
                parser.expect_idle_done()
            elif isinstance(last, c.Authenticate):
                parser.expect_sasl_response()
            assert parser.buffered <= LIMITS.max_command + LIMITS.max_line + len(chunk) + 4
            events = parser.feed(b"")
    return out


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out


@settings(max_examples=400, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(data=streams, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_parser_never_raises_and_is_split_invariant(data: bytes, cuts: list[int]) -> None:
    whole = _drain(CommandParser(LIMITS), [data])
    split = _drain(CommandParser(LIMITS), _split(data, cuts))
    assert whole == split
    for event in whole:
        assert isinstance(event, c.Command | Rejected | IdleDone | SaslResponse) or (
            type(event).__name__ == "ContinuationRequest"
        )
        if isinstance(event, Rejected) and event.tag is not None:
            assert event.tag.isascii() and " " not in event.tag


@settings(max_examples=100, deadline=1000)
@given(size=st.integers(min_value=0, max_value=5000), chunk=st.integers(min_value=1, max_value=700))
def test_endless_line_is_bounded(size: int, chunk: int) -> None:
    parser = CommandParser(LIMITS)
    data = b"t SEARCH TEXT " + b"x" * size
    for i in range(0, len(data), chunk):
        parser.feed(data[i : i + chunk])
        assert parser.buffered <= LIMITS.max_line + chunk + 1
    events = parser.feed(b"\r\n")
    assert len(events) == 1
