"""Property tests: the MIME layer never raises and stays fast on arbitrary and mutated input."""

from __future__ import annotations

import base64
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rongmail.mime.encoded_words import decode_header, parse_params
from rongmail.mime.html import html_to_text, sanitize_html
from rongmail.mime.model import MimePart
from rongmail.mime.parse import parse_message

B64_SUBJECT = base64.b64encode("季度报告与会议通知".encode("gb2312")).decode()

SEEDS: list[bytes] = [
    (
        "From: =?gb2312?B?1cXPyMn6?= <z@example.com>\r\n"
        f"Subject: =?gb2312?B?{B64_SUBJECT}?=\r\n"
        "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
        "pre\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
        "--i\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
        "quoted-printable\r\n\r\nHi =E4=BD=A0\r\n--i\r\nContent-Type: text/html\r\n\r\n"
        "<p>x</p>\r\n--i--\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\n"
        "inner\r\n--o\r\nContent-Type: application/pdf; name*=utf-8''%E6%96%87.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--o--\r\n"
    ).encode(),
    b"Content-Type: multipart/alternative; boundary=x\n\n"
    + "没有边界行的正文".encode("gb2312"),
    b"Subject: =?gb2312?B?" + B64_SUBJECT[:20].encode() + b"\n" + B64_SUBJECT[20:].encode()
    + b"?=\nContent-Type: text/html; charset=big5\n\n" + "<b>繁體</b>".encode("big5"),
]  # fmt: skip


def _check(raw: bytes) -> None:
    t0 = time.perf_counter()
    m = parse_message(raw)
    assert time.perf_counter() - t0 < 2.0
    assert m.size == len(raw)
    assert not [d for d in m.defects if d.startswith("parser-error")], m.defects
    assert len(m.preview) <= 256

    def offsets(p: MimePart, lo: int, hi: int) -> None:
        assert lo <= p.start <= p.body_start <= p.end <= hi
        assert p.type != "multipart" or p.children
        assert p.mime_type != "message/rfc822" or len(p.children) == 1
        for c in p.children:
            offsets(c, p.body_start, p.end)

    offsets(m.body, 0, len(raw))
    MimePart.from_json(m.body.to_json())


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(raw: bytes) -> None:
    _check(raw)


_ops = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace", "dup", "truncate"]),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=64),
        st.binary(min_size=1, max_size=16)
        | st.sampled_from(
            [b"\r\n", b"\n\n", b"--o", b"--i--", b"=?", b"?=", b":", b"\x00", b"\xff"]
        ),
    ),
    min_size=1,
    max_size=12,
)


@FUZZ
@given(st.sampled_from(SEEDS), _ops)
def test_mutated_messages(seed: bytes, ops: list[tuple[str, int, int, bytes]]) -> None:
    buf = bytearray(seed)
    for op, pos, n, data in ops:
        pos = pos % (len(buf) + 1)
        if op == "insert":
            buf[pos:pos] = data
        elif op == "delete":
            del buf[pos : pos + n]
        elif op == "replace":
            buf[pos : pos + len(data)] = data
        elif op == "dup":
            buf[pos:pos] = buf[pos : pos + n] * 3
        else:
            del buf[pos:]
    _check(bytes(buf))


@FUZZ
@given(st.text(max_size=512))
def test_text_helpers_never_raise(s: str) -> None:
    decode_header(s.encode("utf-8", "surrogatepass"))
    parse_params(s)
    html_to_text(s)
    sanitize_html(s, allow_remote_images=False)
