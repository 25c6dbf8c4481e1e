"""POP3 response rendering: status lines, byte-stuffing, canonical sizes, TOP (RFC 1939 §3, §7)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rongmail.protocols.pop3.proto import wire


def unstuff(body: bytes) -> bytes:
    assert body.endswith(b"\r\n.\r\n") or body == b".\r\n"
    lines = body[:-3].split(b"\r\n")[:-1] if body != b".\r\n" else []
    return b"".join((ln[1:] if ln.startswith(b".") else ln) + b"\r\n" for ln in lines)


def test_status_lines_are_safe() -> None:
    assert wire.status(True, "2 320") == b"+OK 2 320\r\n"
    assert wire.status(False, "no", code="IN-USE") == b"-ERR [IN-USE] no\r\n"
    assert wire.status(False, "a\r\nb\u53d1") == b"-ERR a??b?\r\n"


def test_multiline_stuffs() -> None:
    assert wire.multiline(b"+OK\r\n", ["1 2", ".x"]) == b"+OK\r\n1 2\r\n..x\r\n.\r\n"


def test_canonical_examples() -> None:
    assert wire.canonical(b"") == b""
    assert wire.canonical(b"a\nb") == b"a\r\nb\r\n"
    assert wire.canonical(b"a\r\rb\r\n") == b"a\r\n\r\nb\r\n"
    assert wire.canonical(b"a\r\n") == b"a\r\n"


@given(st.binary(max_size=300))
def test_wire_size_is_canonical_length(raw: bytes) -> None:
    data = wire.canonical(raw)
    assert wire.wire_size(raw) == len(data)
    assert wire.canonical(data) == data
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")


@given(st.binary(max_size=300))
def test_stuffing_round_trips(raw: bytes) -> None:
    data = wire.canonical(raw)
    body = wire.message_response(b"", data)
    assert unstuff(body) == data
    assert b"\r\n.\r\n" not in body[:-3]


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=20))
def test_top_is_a_prefix_ending_in_crlf(raw: bytes, n: int) -> None:
    data = wire.canonical(raw)
    cut = wire.top(data, n)
    assert data.startswith(cut)
    assert cut == b"" or cut.endswith(b"\r\n")


def test_top_examples() -> None:
    msg = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n"
    assert wire.top(msg, 0) == b"A: 1\r\nB: 2\r\n\r\n"
    assert wire.top(msg, 1) == b"A: 1\r\nB: 2\r\n\r\nl1\r\n"
    assert wire.top(msg, 5) == msg
    assert wire.top(b"\r\nbody\r\nmore\r\n", 1) == b"\r\nbody\r\n"
    assert wire.top(b"A: 1\r\n", 3) == b"A: 1\r\n"
