"""The direct ENVELOPE path equals the generic one (RFC 9051 §7.5.2).

``message._simple_addresses`` parses the common address shapes without ``email.utils``, and
``message.envelope_bytes`` writes the wire form without ``response.render``. Both must give
exactly what ``getaddresses`` and ``render(envelope(...))`` give: generated address lists
(hypothesis, with quotes, comments, groups, commas, non-ASCII and odd spacing mixed in) and
the address headers of the shared MIME corpus.
"""

from __future__ import annotations

import email.parser
import email.policy
import sys
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rongmail.protocols.imap.message import _simple_addresses, envelope, envelope_bytes
from rongmail.protocols.imap.proto.response import render

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus"))
from test_mime_corpus import iter_tar_zst  # noqa: E402

ADDRESS_FIELDS = ("from_", "sender", "reply_to", "to", "cc", "bcc")

words = st.sampled_from([
    "Zhang", "San", "J.", "Smith", "张三", "财务部", "=?utf-8?B?5byg5LiJ?=", "O'Neil", "a.b",
    "\"Quoted, Name\"", "(comment)", "x\\y", "[lit]", "Group:", ";", "<", ">", "@", "", "a\u3000b",
    "\xa0", "Ünïcode",
])
locals_ = st.sampled_from(["a", "a.b", "first.last", "x+tag", "o'neil", "a..b", ".a", "a.",
                           "\"q q\"", "中文", "a_b-c", "UPPER"])
hosts = st.sampled_from(["example.com", "b", "EXAMPLE.cn", "a-b.c", "-bad.com", "x..y", "[1.2.3.4]",
                         "mail.企业.cn", "c."])
spaces = st.sampled_from(["", " ", "  ", "\t", " \t "])


@st.composite
def address_lists(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        addr = f"{draw(locals_)}@{draw(hosts)}"
        shape = draw(st.integers(0, 3))
        if shape == 0:
            part = addr
        elif shape == 1:
            part = f"<{addr}>"
        else:
            name = draw(spaces).join(draw(st.lists(words, min_size=1, max_size=3)))
            part = f"{name}{draw(spaces)}<{addr}>"
        parts.append(draw(spaces) + part + draw(spaces))
    return ",".join(parts)


def _expected(raw: str) -> list[tuple[str, str]]:
    return [(n, e) for n, e in getaddresses([raw]) if n or e]


def _check(raw: str) -> bool:
    """Compare where the fast path answers; True if it did."""
    fast = _simple_addresses(raw)
    if fast is None:
        return False
    assert [(n, f"{lo}@{h}") for n, lo, h in fast] == _expected(raw), raw
    return True


@settings(max_examples=3000, deadline=None)
@given(address_lists())
def test_simple_addresses_agree_with_getaddresses(raw: str) -> None:
    _check(raw)


def test_the_common_shapes_take_the_fast_path() -> None:
    for raw in ("a@b.com", "Zhang San <zs@example.cn>", "张三 <zs@example.cn>, li@example.cn",
                "=?utf-8?B?5byg5LiJ?= <zs@example.cn>", "<a@b>", "J.  Smith\t<j@x.org>"):
        assert _check(raw), raw
    for raw in ('"Smith, J" <j@x.org>', "j@x.org (J)", "undisclosed-recipients:;", "a@b, , c@d"):
        assert _simple_addresses(raw) is None, raw


@settings(max_examples=500, deadline=None)
@given(st.fixed_dictionaries(
    {k: st.one_of(st.none(), address_lists()) for k in ADDRESS_FIELDS},
    optional={
        "date": st.sampled_from(["Mon, 1 Jan 2024 10:00:00 +0800", "bad date"]),
        "subject": st.text(max_size=40),
        "in_reply_to": st.sampled_from(["<x@y>", ""]),
        "message_id": st.sampled_from(["<m@y>", "a\r\nb"]),
    },
))
def test_envelope_bytes_equal_the_generic_render(env: dict[str, Any]) -> None:
    for utf8 in (False, True):
        assert envelope_bytes(env, utf8=utf8) == render(envelope(env), utf8=utf8)


def test_corpus_address_headers(shared_data) -> None:  # type: ignore[no-untyped-def]
    archive = shared_data / "mime_test_messages" / "mime_test_messages.tar.zst"
    if not archive.exists():
        pytest.skip("mime_test_messages archive is absent")
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    fast = checked = 0
    names = {"from": "from_", "sender": "sender", "reply-to": "reply_to", "to": "to", "cc": "cc",
             "bcc": "bcc"}  # fmt: skip
    for _name, raw in iter_tar_zst(archive):
        try:
            headers = parser.parsebytes(raw)
        except Exception:
            continue
        env: dict[str, Any] = {}
        for header, key in names.items():
            value = headers.get(header)
            if isinstance(value, str):
                env[key] = value
                fast += _check(value)
        env["subject"] = headers.get("subject") if isinstance(headers.get("subject"), str) else None
        for utf8 in (False, True):
            assert envelope_bytes(env, utf8=utf8) == render(envelope(env), utf8=utf8)
        checked += 1
    assert checked > 100 and fast > 100, (checked, fast)
