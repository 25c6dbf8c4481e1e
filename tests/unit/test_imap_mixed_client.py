"""``bench/imap_mixed.py``'s minimal IMAP client: its answer scanner finds the tagged status
line after any number of untagged lines and literals (RFC 9051 §4.3), whatever the chunking,
never inside a literal, and cuts off what it has scanned, so a long answer costs it linear
time (session 14: a 4 MB answer without literals was searched again from its start for every
64 KB chunk read)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import imap_mixed  # noqa: E402
from imap_mixed import Client, ImapError  # noqa: E402


class _Writer:
    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


class _Reader:
    """Hands out ``answer`` in ``step``-byte chunks and counts how much was read."""

    def __init__(self, answer: bytes, step: int) -> None:
        self.answer, self.step, self.at = answer, step, 0

    async def read(self, n: int) -> bytes:
        k = min(n, self.step)
        chunk = self.answer[self.at : self.at + k]
        self.at += len(chunk)
        return chunk


def _answer(lines: list[bytes], status: bytes = b"b1 OK done") -> bytes:
    return b"".join(lines) + status + b"\r\n"


async def _cmd(answer: bytes, step: int) -> tuple[tuple[str, int], _Reader]:
    c = Client("127.0.0.1", 0)
    reader = _Reader(answer, step)
    c.r, c.w = reader, _Writer()  # type: ignore[assignment]
    return await c.cmd("FETCH 1:* (FLAGS ENVELOPE)"), reader


def _with_literals(n: int) -> bytes:
    """Untagged lines, every third with a literal that holds a fake tagged line and braces."""
    lines = []
    for i in range(n):
        if i % 3 == 0:
            body = b"b1 OK fake}\r\n{12}\r\nnot a literal"
            lines.append(b"* %d FETCH (BODY[] {%d}\r\n%b)\r\n" % (i + 1, len(body), body))
        elif i % 3 == 1:
            lines.append(b"* %d FETCH (FLAGS (\\Seen) ENVELOPE (\"a } b\" NIL))\r\n" % (i + 1))
        else:
            lines.append(b"* %d FETCH (BODY[] {3+}\r\nx}\r)\r\n" % (i + 1))
    return _answer(lines)


@pytest.mark.parametrize("step", [1, 2, 7, 64, 65536])
def test_the_tagged_line_is_found_after_literals_whatever_the_chunking(step: int) -> None:
    answer = _with_literals(60)
    (status, size), reader = asyncio.run(_cmd(answer, step))
    assert status == "b1 OK done"
    assert size == len(answer) == reader.at  # everything read, nothing after the end awaited


def test_a_tagged_line_inside_a_literal_does_not_end_the_answer() -> None:
    body = b"\r\nb1 OK not yet\r\n"
    answer = _answer([b"* 1 FETCH (BODY[] {%d}\r\n%b)\r\n" % (len(body), body)])
    (status, _), reader = asyncio.run(_cmd(answer, 5))
    assert status == "b1 OK done" and reader.at == len(answer)


def test_a_refusal_raises() -> None:
    with pytest.raises(ImapError, match="NO"):
        asyncio.run(_cmd(_answer([b"* OK hello\r\n"], b"b1 NO [LIMIT] too many"), 4))


@pytest.mark.parametrize("literals", [False, True])
def test_a_long_answer_is_cut_as_it_is_scanned(literals: bool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 3 MB in 64 KB chunks, the buffer the scanner searches stays under 1 MB, with and
    without literals (it grew to the whole answer when there were none)."""
    if literals:
        answer = _with_literals(60_000)
    else:
        line = b"* 1 FETCH (FLAGS (\\Seen) ENVELOPE (\"Mon, 1 Jan 2024\" \"subject\" NIL))\r\n"
        answer = _answer([line] * 150_000)
    assert len(answer) > 3_000_000
    sizes: list[int] = []
    real_find = bytearray.find

    class Spy(bytearray):
        def find(self, *args, **kw):  # type: ignore[no-untyped-def]
            sizes.append(len(self))
            return real_find(self, *args, **kw)

    monkeypatch.setattr(imap_mixed, "bytearray", Spy, raising=False)
    (status, size), _ = asyncio.run(_cmd(answer, 65536))
    assert status == "b1 OK done" and size == len(answer)
    assert sizes and max(sizes) < 1 << 20
