"""RFC 2047 encoded words and RFC 2231 parameters, including malformed real-world forms."""

from __future__ import annotations

import base64

import pytest

from rongmail.mime.encoded_words import (
    decode_b,
    decode_encoded_words,
    decode_header,
    decode_q,
    parse_params,
)


def b_word(text: str, charset: str = "gb2312") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?Q?caf=C3=A9?=", "café"),
        ("=?UTF-8?q?hello_world?=", "hello world"),
        ("=?iso-8859-1?q?this=20is=20some=20text?=", "this is some text"),
        # RFC 2047 §8 examples: white space between adjacent encoded words is dropped.
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?=\t  =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
        ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
        # RFC 2231 §5 language suffix.
        ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
        ("plain text", "plain text"),
    ],
)
def test_rfc2047_examples(raw: str, expected: str) -> None:
    assert decode_encoded_words(raw) == expected


def test_gb2312_b_word() -> None:
    assert decode_encoded_words(b_word("深圳永辉实业")) == "深圳永辉实业"


def test_glued_encoded_word_without_whitespace() -> None:
    raw = "Re:" + b_word("你好") + "abc" + b_word("世界") + "!"
    assert decode_encoded_words(raw) == "Re:你好abc世界!"


def test_multibyte_char_split_across_words() -> None:
    data = "中文主题".encode("gbk")
    w1 = base64.b64encode(data[:3]).decode()
    w2 = base64.b64encode(data[3:]).decode()
    assert decode_encoded_words(f"=?gbk?B?{w1}?= =?gbk?B?{w2}?=") == "中文主题"


def test_wrong_declared_charset_is_detected() -> None:
    # Declared ISO-8859-1 but the bytes are GB2312.
    w = base64.b64encode("发票代开".encode("gb2312")).decode()
    assert decode_encoded_words(f"=?iso-8859-1?B?{w}?=") == "发票代开"
    # Declared GB2312 but the bytes are UTF-8.
    w = base64.b64encode("会议通知".encode()).decode()
    assert decode_encoded_words(f"=?gb2312?B?{w}?=") == "会议通知"


def test_big5_word() -> None:
    assert decode_encoded_words(b_word("繁體中文", "big5")) == "繁體中文"


def test_iso_2022_jp_word() -> None:
    w = base64.b64encode("日本語".encode("iso-2022-jp")).decode()
    assert decode_encoded_words(f"=?ISO-2022-JP?B?{w}?=") == "日本語"


def test_unknown_charset_does_not_raise() -> None:
    assert decode_encoded_words("=?x-bogus?Q?abc?=") == "abc"


def test_bad_base64_padding_and_junk() -> None:
    assert decode_b("5L2g5aW9") == "你好".encode()
    assert decode_b("5L2g5aW") == "你好".encode()[:5]
    assert decode_b("5L2g*5aW9!!") == "你好".encode()
    assert decode_q("a=ZZb=41") == b"a=ZZbA"


def test_truncated_subject_drops_partial_character() -> None:
    data = "测试截断".encode("gb2312")[:-1]
    w = base64.b64encode(data).decode()
    assert decode_encoded_words(f"=?gb2312?B?{w}?=") == "测试截"


def test_raw_8bit_header_bytes() -> None:
    assert decode_header("报价单".encode("gbk")) == "报价单"
    assert decode_header("报价单".encode()) == "报价单"
    assert decode_header(b"M\xfcller") == "Müller"


@pytest.mark.parametrize(
    ("value", "main", "params"),
    [
        ('text/plain; charset="GB2312"', "text/plain", {"charset": "GB2312"}),
        ("TEXT/HTML;charset=utf-8 (comment)", "text/html", {"charset": "utf-8"}),
        (
            'multipart/mixed; boundary="----=_NextPart_000_0001;x"',
            "multipart/mixed",
            {"boundary": "----=_NextPart_000_0001;x"},
        ),
        ('attachment; filename="a \\"b\\".txt"', "attachment", {"filename": 'a "b".txt'}),
        # RFC 2231 §4 charset and language.
        (
            "attachment; filename*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
            "attachment",
            {"filename": "This is ***fun***"},
        ),
        # RFC 2231 §3 continuations.
        (
            'message/external-body; access-type=URL; URL*0="ftp://"; URL*1="cs.utk.edu/pub"',
            "message/external-body",
            {"access-type": "URL", "url": "ftp://cs.utk.edu/pub"},
        ),
        # RFC 2231 §4.1 mixed encoded and plain sections.
        (
            "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20;"
            ' title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn\'t it!"',
            "application/x-stuff",
            {"title": "This is even more ***fun*** isn't it!"},
        ),
        # Sections out of order.
        ("a; name*1=b; name*0=a", "a", {"name": "ab"}),
    ],
)
def test_params(value: str, main: str, params: dict[str, str]) -> None:
    assert parse_params(value) == (main, params)


def test_rfc2231_utf8_chinese_filename() -> None:
    from urllib.parse import quote

    v = "attachment; filename*=UTF-8''" + quote("季度报告.pdf")
    assert parse_params(v)[1]["filename"] == "季度报告.pdf"


def test_rfc2231_gbk_continuation_split_inside_character() -> None:
    from urllib.parse import quote_from_bytes

    raw = "很长的中文文件名.doc".encode("gbk")
    a, b = quote_from_bytes(raw[:5]), quote_from_bytes(raw[5:])
    v = f"attachment; filename*0*=gbk''{a}; filename*1*={b}"
    assert parse_params(v)[1]["filename"] == "很长的中文文件名.doc"


def test_encoded_word_inside_quoted_filename() -> None:
    v = f'application/octet-stream; name="{b_word("合同.doc")}"'
    assert parse_params(v)[1]["name"] == "合同.doc"


def test_extended_param_wins_over_plain() -> None:
    v = "attachment; filename=fallback.txt; filename*=utf-8''%E6%96%87.txt"
    assert parse_params(v)[1]["filename"] == "文.txt"


@pytest.mark.parametrize(
    "junk",
    ["", ";", ";;;", "=", "a; =b", 'a; b="unterminated', "a; b*x=1", "a; b*99999999=1", "(((("],
)
def test_params_never_raise(junk: str) -> None:
    parse_params(junk)
