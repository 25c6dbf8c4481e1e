"""Hypothesis fuzzing of the sans-IO POP3 parser (issue 4, item 5).

Properties: ``feed`` never raises, memory stays bounded by ``max_line``, and how the stream is
cut into reads never changes the events.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rongmail.protocols.pop3.proto.parser import Parser

MAX_LINE = 64

VERBS = [b"USER", b"PASS", b"STAT", b"LIST", b"RETR", b"DELE", b"TOP", b"UIDL", b"AUTH", b"CAPA"]
pieces = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([b"\r\n", b"\n", b"\r", b" ", b"\x00", b"\xff", b"."]),
    st.sampled_from(VERBS),
    st.integers(min_value=0, max_value=2**40).map(lambda n: str(n).encode()),
)
streams = st.lists(pieces, max_size=40).map(b"".join)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(data)]:
        out.append(data[last:p])
        last = p
    return out


@settings(max_examples=400, deadline=None)
@given(streams, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_chunking_does_not_matter(data: bytes, cuts: list[int]) -> None:
    whole = Parser(MAX_LINE)
    expected = whole.feed(data)
    parts = Parser(MAX_LINE)
    got = []
    for chunk in chunked(data, cuts):
        got += parts.feed(chunk)
        assert parts.buffered <= MAX_LINE
    assert got == expected
    assert whole.take_buffered() == parts.take_buffered()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_arbitrary_bytes_never_raise(chunks: list[bytes]) -> None:
    p = Parser(MAX_LINE)
    lines = 0
    for chunk in chunks:
        lines += len(p.feed(chunk))
        assert p.buffered <= MAX_LINE
    assert lines <= sum(c.count(b"\n") for c in chunks) + sum(len(c) for c in chunks) // MAX_LINE + 1
