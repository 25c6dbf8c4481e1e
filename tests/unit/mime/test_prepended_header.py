"""with_prepended_header: deriving the parse of ``block + raw`` from the parse of ``raw`` must
give exactly what a full parse gives, or decline (``None``). Delivery relies on it to parse a
message once (SMTP stage and store)."""

from __future__ import annotations

import random

import pytest

from rongmail.mime.parse import parse_message, with_prepended_header


def crlf(s: str) -> bytes:
    return s.replace("\n", "\r\n").encode()


def _multipart(boundary: str, parts: list[str], *, subtype: str = "mixed") -> str:
    body = "".join(f"--{boundary}\n{p}\n" for p in parts)
    return f"Content-Type: multipart/{subtype}; boundary={boundary}\n\npreamble\n{body}--{boundary}--\n"


#: Nested multiparts, a QP text, an attachment, an encapsulated message, encoded words.
NESTED = crlf(
    "From: =?utf-8?B?5byg5YWI55Sf?= <zhang@example.com>\nTo: li@example.com\n"
    "Subject: =?utf-8?B?5rWL6K+V?= nested\nDate: Sat, 9 Jul 2005 10:55:33 +0800\n"
    "Message-ID: <abc@example.com>\nReferences: <root@example.com>\n <parent@example.com>\n"
    "MIME-Version: 1.0\n"
    + _multipart(
        "outer",
        [
            _multipart(
                "inner",
                [
                    "Content-Type: text/plain; charset=utf-8\n"
                    "Content-Transfer-Encoding: quoted-printable\n\nHello =E4=BD=A0",
                    "Content-Type: text/html\n\n<p>Hello <b>html</b></p>",
                ],
                subtype="alternative",
            ),
            "Content-Type: application/pdf; name=a.pdf\nContent-Disposition: attachment\n"
            "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK",
            "Content-Type: message/rfc822\n\nFrom: inner@example.com\nSubject: inner\n\nbody",
        ],
    )
    + "epilogue\n"
)

TRACE = (
    b"Received: from client.test (client.test [127.0.0.1])\r\n"
    b"\tby mx.bench.test with ESMTP id 9EC6F060EA82;\r\n"
    b"\tFri, 27 Nov 2026 11:32:16 +0000\r\n"
    b"Authentication-Results: mx.bench.test; spf=none smtp.mailfrom=client.test\r\n"
    b"X-RongMail-Spam: deliver; score=1.0; tags=SPF_NA(+0.3)\r\n"
)

PLAIN = crlf("From: <sender@client.test>\nTo: <bench@bench.test>\nSubject: hi\n\nbody\nline\n")


def _same(raw: bytes, block: bytes = TRACE) -> bool:
    """Asserts equality when the derivation is offered; returns whether it was."""
    got = with_prepended_header(parse_message(raw), raw, block)
    if got is None:
        return False
    assert got == parse_message(block + raw)
    return True


@pytest.mark.parametrize(
    "raw",
    [
        PLAIN,
        NESTED,
        crlf("\nno header at all\n"),
        crlf("Subject: only a header\n\n"),
        b"From: a@b.test\nSubject: LF only\n\nbody\n",
        crlf("Content-Type: text/html\n\n<p>x <a href='http://e.test/'>l</a></p>\n"),
    ],
)
def test_derived_parse_equals_full_parse(raw: bytes) -> None:
    assert _same(raw)


@pytest.mark.parametrize(
    "raw",
    [
        crlf(" leading continuation\nSubject: x\n\nbody\n"),  # would join the block's last field
        crlf("From sender@client.test Fri Nov 27\nSubject: x\n\nbody\n"),  # mbox line
        crlf("not a header line\n\nbody\n"),  # missing separator: a defect
        b"",
    ],
)
def test_declined_when_the_block_would_change_the_parse(raw: bytes) -> None:
    assert with_prepended_header(parse_message(raw), raw, TRACE) is None


@pytest.mark.parametrize(
    "block",
    [
        b"Subject: overrides\r\n",  # an interpreted field
        b"Content-Type: text/html\r\n",
        b"Received: no line ending",
        "Received: caf\u00e9\r\n".encode(),
        b"not a field\r\n",
    ],
)
def test_declined_for_blocks_the_parser_interprets_or_rejects(block: bytes) -> None:
    assert with_prepended_header(parse_message(PLAIN), PLAIN, block) is None


def test_other_raw_is_refused() -> None:
    assert with_prepended_header(parse_message(PLAIN), PLAIN + b"x", TRACE) is None


_PIECES = [
    "Subject: s\n",
    "From: a@b.test\n",
    "Content-Type: multipart/mixed; boundary=b\n",
    "Content-Type: message/rfc822\n",
    "Content-Transfer-Encoding: base64\n",
    " cont\n",
    "\n",
    "--b\n",
    "--b--\n",
    "text line\n",
    "From x\n",
    "X-Other: v\n",
    "\t\n",
    "Content-Type: text/plain; charset=gbk\n",
    "aGVsbG8=\n",
]


def test_random_messages() -> None:
    """Random structure (nesting, continuations, stray delimiters, LF and CRLF): whenever
    the derivation is offered it equals the full parse, and it is offered often."""
    rnd = random.Random(3)
    offered = 0
    for _ in range(3000):
        text = "".join(rnd.choice(_PIECES) for _ in range(rnd.randint(0, 14)))
        raw = crlf(text) if rnd.random() < 0.7 else text.encode()
        offered += _same(raw)
    assert offered > 300
