"""Charset normalisation and the decode policy for declared, missing and wrong charsets."""

from __future__ import annotations

import pytest

from rongmail.mime.charsets import decode_text, looks_gb, normalize_charset


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("GB2312", "gb18030"),
        ("gbk", "gb18030"),
        ("x-gbk", "gb18030"),
        ("euc-cn", "gb18030"),
        ("GB18030", "gb18030"),
        ("big5", "big5hkscs"),
        ("UTF8", "utf-8"),
        ('"utf-8"', "utf-8"),
        ("iso-8859-1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("iso-2022-jp", "iso2022_jp_2"),
        ("x-unknown", None),
        ("no-such-charset", None),
        (None, None),
    ],
)
def test_normalize(label: str | None, codec: str | None) -> None:
    assert normalize_charset(label) == codec


ZH = "尊敬的公司经理负责人你好：我公司是一家多年为外资企业代理进出口业务的公司。"


def test_gb2312_declared() -> None:
    assert decode_text(ZH.encode("gb2312"), "gb2312") == (ZH, "gb18030")


def test_gbk_only_characters_under_gb2312_label() -> None:
    text = "镕基先生，喆"  # 镕 and 喆 are GBK, not GB2312
    assert decode_text(text.encode("gbk"), "gb2312")[0] == text


def test_big5_declared() -> None:
    text = "繁體中文郵件內容，請查收。"
    assert decode_text(text.encode("big5"), "big5") == (text, "big5hkscs")


def test_undeclared_gb_is_detected() -> None:
    assert decode_text(ZH.encode("gb18030"), None) == (ZH, "gb18030")


def test_undeclared_utf8() -> None:
    assert decode_text(ZH.encode(), None) == (ZH, "utf-8")


@pytest.mark.parametrize("label", ["us-ascii", "iso-8859-1", "utf-8"])
def test_gb_text_with_wrong_label(label: str) -> None:
    assert decode_text(ZH.encode("gb2312"), label)[0] == ZH


def test_real_latin1_is_not_mistaken_for_gb() -> None:
    text = "Résumé: café, naïve façade, déjà vu, Müller"
    assert decode_text(text.encode("latin-1"), "iso-8859-1")[0] == text
    assert not looks_gb(text.encode("latin-1"))


def test_truncated_trailing_character_is_dropped() -> None:
    data = ZH.encode("gb2312")[:-1]
    assert decode_text(data, "gb2312")[0] == ZH[:-1]


def test_garbage_never_raises_and_replaces() -> None:
    data = bytes(range(256)) * 4
    for label in (None, "gb2312", "utf-8", "big5", "iso-2022-jp", "utf-7", "bogus"):
        text, codec = decode_text(data, label)
        assert isinstance(text, str)
        assert codec


def test_iso_2022_jp_ascii_only_bytes() -> None:
    text = "こんにちは"
    assert decode_text(text.encode("iso-2022-jp"), "iso-2022-jp")[0] == text


def test_declared_cyrillic_is_trusted() -> None:
    text = "Привет, это тестовое письмо"
    assert decode_text(text.encode("koi8-r"), "koi8-r") == (text, "koi8-r")
    assert decode_text(text.encode("cp1251"), "windows-1251")[0] == text


def test_utf8_under_gb_label() -> None:
    text = "会议通知：明天上午十点"
    assert decode_text(text.encode(), "gb2312") == (text, "utf-8")
