"""Structural parsing: offsets (IMAP BODY[n] / BODY[n.MIME] as raw slices), body selection,
header handling and the tolerated malformations."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rongmail.mime.model import MimePart, ParsedMessage
from rongmail.mime.parse import MAX_DEPTH, parse_message


def crlf(s: str) -> bytes:
    return s.replace("\n", "\r\n").encode()


NESTED = crlf(
    """From: =?gb2312?B?1cXPyMn6?= <zhang@example.com>
To: "Li, Si" <li@example.com>, wang@example.com
Cc: undisclosed-recipients:;
Subject: =?utf-8?B?5rWL6K+V?= nested
Date: Sat, 9 Jul 2005 10:55:33 +0800
Message-ID: <abc@example.com>
In-Reply-To: <parent@example.com>
References: <root@example.com>
 <parent@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is the preamble.
--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hello =E4=BD=A0=E5=A5=BD
--inner
Content-Type: text/html; charset=utf-8

<p>Hello <b>html</b></p>
--inner--
--outer
Content-Type: application/pdf; name="=?gb2312?B?sai45i5wZGY=?="
Content-Disposition: attachment
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer
Content-Type: message/rfc822

From: inner@example.com
Subject: inner subject
Content-Type: text/plain

inner body
--outer--
epilogue
"""
)


@pytest.fixture(scope="module")
def nested() -> ParsedMessage:
    return parse_message(NESTED)


def parts(m: ParsedMessage) -> dict[str, MimePart]:
    return {p.part_id: p for p in m.body.walk()}


def test_tree_shape(nested: ParsedMessage) -> None:
    ids = [(p.part_id, p.mime_type) for p in nested.body.walk()]
    assert ids == [
        ("", "multipart/mixed"),
        ("1", "multipart/alternative"),
        ("1.1", "text/plain"),
        ("1.2", "text/html"),
        ("2", "application/pdf"),
        ("3", "message/rfc822"),
        ("3.1", "text/plain"),
    ]
    assert nested.defects == []


def test_offsets_are_raw_slices(nested: ParsedMessage) -> None:
    p = parts(nested)
    raw = NESTED
    assert raw[p["1.1"].body_start : p["1.1"].end] == b"Hello =E4=BD=A0=E5=A5=BD"
    assert raw[p["1.1"].start : p["1.1"].body_start] == crlf(
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
    )
    assert raw[p["1.2"].body_start : p["1.2"].end] == b"<p>Hello <b>html</b></p>"
    assert raw[p["2"].body_start : p["2"].end] == b"JVBERi0xLjQK"
    # BODY[3] of a message/rfc822 part is the whole encapsulated message.
    assert raw[p["3"].body_start : p["3"].end] == crlf(
        "From: inner@example.com\nSubject: inner subject\nContent-Type: text/plain\n\ninner body"
    )
    assert raw[p["3.1"].body_start : p["3.1"].end] == b"inner body"
    # The body of multipart/alternative runs from its first delimiter to its close delimiter.
    alt = raw[p["1"].body_start : p["1"].end]
    assert alt.startswith(b"--inner\r\n") and alt.endswith(b"--inner--")
    assert nested.header_size == p[""].body_start
    assert raw[: nested.header_size].endswith(b"\r\n\r\n")
    for part in nested.body.walk():
        assert part.size == part.end - part.body_start
        assert part.start <= part.body_start <= part.end <= len(raw)


def test_offsets_match_stdlib_payloads(nested: ParsedMessage) -> None:
    ref = email.message_from_bytes(NESTED, policy=email.policy.compat32)
    leaves = [q for q in ref.walk() if not q.is_multipart()]
    p = parts(nested)
    assert leaves[0].get_payload(decode=False) == "Hello =E4=BD=A0=E5=A5=BD"
    assert leaves[1].get_payload() == "<p>Hello <b>html</b></p>"
    assert leaves[2].get_payload() == "JVBERi0xLjQK"
    assert p["1.1"].lines == 1


def test_lines_and_sizes() -> None:
    raw = b"Subject: x\n\nl1\nl2\nl3\n"
    m = parse_message(raw)
    assert m.body.part_id == "1"
    assert (m.body.size, m.body.lines) == (9, 3)


def test_decoded_fields(nested: ParsedMessage) -> None:
    assert nested.subject == "测试 nested"
    assert [(a.name, a.email) for a in nested.from_] == [("张先生", "zhang@example.com")]
    assert [a.email for a in nested.to] == ["li@example.com", "wang@example.com"]
    assert nested.to[0].name == "Li, Si"
    assert nested.message_id == "abc@example.com"
    assert nested.in_reply_to == ["parent@example.com"]
    assert nested.references == ["root@example.com", "parent@example.com"]
    assert nested.date == datetime(2005, 7, 9, 10, 55, 33, tzinfo=timezone(timedelta(hours=8)))
    assert nested.text_body == "Hello 你好"
    assert nested.html_body == "<p>Hello <b>html</b></p>"
    assert nested.preview == "Hello 你好"
    assert nested.header("subject") == "测试 nested"
    assert nested.header("SUBJECT") == "测试 nested"


def test_envelope_is_raw(nested: ParsedMessage) -> None:
    env = nested.envelope
    assert env.subject == "=?utf-8?B?5rWL6K+V?= nested"
    assert env.from_ == "=?gb2312?B?1cXPyMn6?= <zhang@example.com>"
    assert env.sender is None
    assert env.message_id == "<abc@example.com>"
    inner = parts(nested)["3"].envelope
    assert inner is not None and inner.subject == "inner subject"


def test_attachments(nested: ParsedMessage) -> None:
    atts = {a.part_id: a for a in nested.attachments}
    assert set(atts) == {"2", "3"}
    pdf = atts["2"]
    assert (pdf.filename, pdf.content_type, pdf.size, pdf.inline) == (
        "报告.pdf",
        "application/pdf",
        9,
        False,
    )
    assert atts["3"].content_type == "message/rfc822"
    assert nested.has_attachment


def test_json_round_trip(nested: ParsedMessage) -> None:
    d = nested.body.to_json()
    assert MimePart.from_json(d).to_json() == d


def test_no_boundary_multipart_shows_text() -> None:
    body = "这是正文，没有边界行。\n第二行。\n"
    raw = (
        b'Subject: test\nContent-Type: multipart/mixed; boundary="----=_NextPart_000"\n\n'
        + body.encode("gb2312")
    )
    m = parse_message(raw)
    assert "no-boundary" in m.defects
    assert m.text_body == body
    assert m.body.mime_type == "text/plain" and m.body.part_id == "1"
    assert m.body.charset == "gb18030"


def test_only_close_delimiter_is_text() -> None:
    m = parse_message(b"Content-Type: multipart/mixed; boundary=b\n\nhello\n--b--\n")
    assert "no-boundary" in m.defects
    assert m.body.mime_type == "text/plain"
    assert m.text_body.startswith("hello")


def test_raw_iso_2022_jp_header() -> None:
    raw = b"Subject: " + "日本語".encode("iso-2022-jp") + b"\n\nx"
    assert parse_message(raw).subject == "日本語"


def test_unindented_continuation_of_encoded_subject() -> None:
    data = base64.b64encode("一个很长的中文主题被截断成两行".encode("gb2312")).decode()
    raw = f"Subject: =?gb2312?B?{data[:40]}\n{data[40:]}?=\nFrom: a@b\n\nbody\n".encode()
    m = parse_message(raw)
    assert m.subject == "一个很长的中文主题被截断成两行"
    assert "unindented-continuation" in m.defects
    assert m.text_body == "body\n"
    assert [a.email for a in m.from_] == ["a@b"]


def test_folding() -> None:
    m = parse_message(b"Subject: a\r\n  b\r\n\tc\r\n\r\n")
    assert m.subject == "a  b\tc"
    assert m.envelope.subject == "a  b\tc"


def test_missing_header_separator() -> None:
    m = parse_message(b"Subject: x\nthis is body text\nmore\n")
    assert "missing-header-separator" in m.defects
    assert m.text_body == "this is body text\nmore\n"


def test_mbox_from_line_is_skipped() -> None:
    m = parse_message(b"From someone@example.com Mon Jan 1 00:00:00 2024\nSubject: s\n\nb\n")
    assert m.subject == "s"
    assert "mbox-from-line" in m.defects


def test_missing_close_boundary() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
        "one\n--b\nContent-Type: text/plain\n\ntwo\n"
    )
    m = parse_message(raw)
    assert "missing-close-boundary" in m.defects
    p = parts(m)
    assert raw[p["1"].body_start : p["1"].end] == b"one"
    assert raw[p["2"].body_start : p["2"].end] == b"two\r\n"
    assert m.text_body == "one\ntwo\n"


def test_boundary_prefix_is_not_a_delimiter() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=abc\n\n--abc\nContent-Type: text/plain\n\n"
        "--abcdef is not a delimiter\n--abc--\n"
    )
    m = parse_message(raw)
    assert len(m.body.children) == 1
    assert m.text_body == "--abcdef is not a delimiter"


def test_transport_padding_after_boundary() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b  \t\n\nx\n--b-- \n"
    m = parse_message(raw)
    assert m.text_body == "x"


def test_html_only_gives_text_body() -> None:
    raw = (
        b"Content-Type: text/html; charset=gb2312\n\n"
        + "<html><head><style>p{}</style></head><body><p>第一段</p><p>第二段</p></body></html>".encode(
            "gb2312"
        )
    )
    m = parse_message(raw)
    assert m.text_body == "第一段\n第二段"
    assert m.html_body is not None and "<p>第一段</p>" in m.html_body


def test_base64_gbk_body_and_garbage() -> None:
    text = "您好！附件是本月的报价单，请查收。"
    b64 = base64.encodebytes(text.encode("gbk")).decode()
    raw = f"Content-Type: text/plain; charset=GBK\nContent-Transfer-Encoding: base64\n\n{b64}!!@@\n"
    m = parse_message(raw.encode())
    assert m.text_body == text


def test_base64_label_on_raw_8bit_text() -> None:
    text = "这不是base64编码的正文，但是声明了base64。" * 3
    raw = b"Content-Type: text/plain; charset=gb2312\nContent-Transfer-Encoding: base64\n\n"
    m = parse_message(raw + text.encode("gb2312"))
    assert m.text_body == text


def test_big5_body() -> None:
    text = "親愛的客戶您好，這是繁體中文郵件。"
    raw = b"Content-Type: text/plain; charset=big5\n\n" + text.encode("big5")
    assert parse_message(raw).text_body == text


def test_raw_8bit_headers_gbk_and_utf8() -> None:
    raw = "Subject: 会议纪要\nFrom: 张三 <z@example.com>\n\nx".encode("gbk")
    m = parse_message(raw)
    assert m.subject == "会议纪要"
    assert m.from_[0].name == "张三"
    raw = "Subject: 会议纪要\n\nx".encode()
    assert parse_message(raw).subject == "会议纪要"


def test_rfc2231_filename_and_inline_image() -> None:
    raw = crlf(
        "Content-Type: multipart/related; boundary=r\n\n"
        '--r\nContent-Type: text/html\n\n<img src="cid:logo@x">\n'
        "--r\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n"
        "iVBORw0KGgo=\n"
        "--r\nContent-Type: application/octet-stream\nContent-Disposition: attachment;\n"
        " filename*0*=UTF-8''%E6%96%87%E4%BB%B6; filename*1=\".txt\"\n\nabc\n--r--\n"
    )
    m = parse_message(raw)
    atts = {a.part_id: a for a in m.attachments}
    assert atts["2"].inline and atts["2"].content_id == "logo@x"
    assert atts["3"].filename == "文件.txt" and not atts["3"].inline
    assert m.html_body == '<img src="cid:logo@x">'


def test_digest_default_type() -> None:
    raw = crlf(
        "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d--\n"
    )
    m = parse_message(raw)
    child = m.body.children[0]
    assert child.mime_type == "message/rfc822"
    assert child.envelope is not None and child.envelope.subject == "one"


def test_depth_limit() -> None:
    depth = MAX_DEPTH + 20
    head = b"".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n".encode() for i in range(depth)
    )
    m = parse_message(head + b"Content-Type: text/plain\n\ndeep\n")
    assert "depth-limit" in m.defects
    deepest = m.body.walk()[-1]
    assert deepest.mime_type == "application/octet-stream"


def test_encoded_message_part_is_opaque() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n"
        "Content-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n--b--\n"
    )
    m = parse_message(raw)
    assert "encoded-message-part" in m.defects
    assert m.body.children[0].mime_type == "application/octet-stream"
    assert m.body.children[0].children == []


def test_part_limit() -> None:
    body = b"".join(b"--b\nContent-Type: text/plain\n\nx\n" for _ in range(5000))
    m = parse_message(b"Content-Type: multipart/mixed; boundary=b\n\n" + body + b"--b--\n")
    assert "part-limit" in m.defects
    assert len(m.body.children) < 5000


def test_huge_header_is_bounded() -> None:
    raw = b"".join(b"X-H%d: %s\n" % (i, b"v" * 50) for i in range(30000)) + b"\nbody"
    m = parse_message(raw)
    assert "header-limit" in m.defects
    assert len(m.headers) <= 10_000
    assert m.text_body == "body"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sat, 9 Jul 2005 10:55:33 +0800", datetime(2005, 7, 9, 2, 55, 33, tzinfo=UTC)),
        ("9 Jul 2005 10:55:33 GMT", datetime(2005, 7, 9, 10, 55, 33, tzinfo=UTC)),
        ("Wed, 20 Jul 05 21:16:05 +0800", datetime(2005, 7, 20, 13, 16, 5, tzinfo=UTC)),
        ("Thu, 2 Dec 2004 08:49:48 +0800 (CST)", datetime(2004, 12, 2, 0, 49, 48, tzinfo=UTC)),
        ("2005-07-18 20:57:09", datetime(2005, 7, 18, 20, 57, 9, tzinfo=UTC)),
        ("not a date", None),
        ("Mon, 99 Foo 99999 99:99:99", None),
    ],
)
def test_dates(value: str, expected: datetime | None) -> None:
    m = parse_message(f"Date: {value}\n\nx".encode())
    assert m.date == expected
    if m.date is not None:
        assert m.date.tzinfo is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\n",
        b"\r\n\r\n",
        b":",
        b"Content-Type: multipart/mixed\n\n--",
        b"Content-Type: multipart/mixed; boundary=\n\n--\n--",
        b"Content-Type: message/rfc822\n\n",
        b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nAAAA",
        b"Content-Type: /\n\n",
        b'Content-Type: text/plain; charset="\n\n\xff\xfe',
        b"\x00" * 100,
        b"=?utf-8?B?",
        b"Subject: =?gb2312?B?" + b"A" * 10000 + b"\n\n",
    ],
)
def test_malformed_never_raises(raw: bytes) -> None:
    m = parse_message(raw)
    assert m.size == len(raw)
    assert not any(d.startswith("parser-error") for d in m.defects)


def test_format_flowed_is_unflowed() -> None:
    body = "This is a long \nparagraph that \nflows.\n> quoted \n> more\n \nFrom here\n-- \nsig\n"
    raw = b"Content-Type: text/plain; charset=us-ascii; format=flowed\n\n" + body.encode()
    m = parse_message(raw)
    assert m.text_body == (
        "This is a long paragraph that flows.\n> quoted more\n\nFrom here\n-- \nsig\n"
    )
    raw_delsp = b"Content-Type: text/plain; format=flowed; delsp=yes\n\nab \ncd\n"
    assert parse_message(raw_delsp).text_body == "abcd\n"


def test_internal_error_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    import rongmail.mime.parse as parse_mod

    def boom(ctx: object) -> ParsedMessage:
        raise RuntimeError("bug")

    monkeypatch.setattr(parse_mod, "_parse", boom)
    m = parse_mod.parse_message(b"Subject: x\n\nbody")
    assert m.defects == ["parser-error:RuntimeError"]
    assert m.size == 16 and m.body.end == 16
