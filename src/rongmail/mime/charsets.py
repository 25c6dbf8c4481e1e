"""Charset handling for real-world (largely Chinese) mail: name normalisation and tolerant decoding.

Role: turn bytes whose charset is declared, missing or wrong into ``str`` without ever raising.

Policy (applied by :func:`decode_text`, in order):

1. Pure ASCII input is decoded as ASCII (unless a stateful 7-bit charset such as ISO-2022-JP,
   HZ or UTF-7 is declared, which is then honoured).
2. A *trusted* declared charset is tried strictly. Declared names are mapped to the superset
   codecs mainstream readers use (WHATWG Encoding Standard §4.2 "labels"): GB2312, EUC-CN, GBK,
   CP936 -> GB18030; Big5 -> Big5-HKSCS; ISO-8859-1/US-ASCII -> windows-1252; KS C 5601 ->
   CP949; Shift_JIS -> CP932. Under a CJK label, input that is valid UTF-8 with at least six
   high bytes is taken as UTF-8 (webmail that labels UTF-8 as GB2312; GB text that is also
   valid UTF-8 at that length is implausible).
3. UTF-8, strictly (it is self-validating, so a false positive is very unlikely).
4. The usual siblings of a failing CJK declaration (GB18030 <-> Big5; ISO-2022-JP -> Shift_JIS,
   EUC-JP: Japanese mailers put ISO-2022-JP labels on Shift_JIS bytes).
5. GB18030, strictly, accepted when the high bytes pair up as GB2312 characters
   (:func:`looks_gb`) or, for undeclared text, as any double-byte sequence.
6. Undeclared text only: ``charset-normalizer`` on at most the first 64 KiB when there are at
   least 32 high bytes (slow, and unreliable on short strings; reached by very few messages),
   then Shift_JIS, Big5, CP949 when the bytes are mostly double-byte pairs.
7. Last resort: the declared charset (or windows-1252) with replacement characters.

"Strictly" tolerates one thing: a multi-byte sequence cut off by the end of the input is
dropped, because 2005-era gateways truncated subjects at a byte count.

"Untrusted" declarations are the single-byte Latin ones and US-ASCII: 2005-era Chinese mailers
routinely labelled GB text ``iso-8859-1`` or ``us-ascii``, and every byte string is valid
Latin-1, so a strict decode proves nothing. For those, steps 3-4 run first.

Invariant: nothing here raises on any input; the returned charset name is the codec actually
used (so callers can record it in :attr:`MimePart.charset`).
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

__all__ = ["decode_8bit", "decode_text", "looks_gb", "normalize_charset"]

_ALIASES: dict[str, str] = {
    # Chinese (simplified): GB18030 is a strict superset of GB2312 and GBK.
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gb2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "euccn": "gb18030",
    "x-euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "chinese": "gb18030",
    "iso-ir-58": "gb18030",
    "gb18030": "gb18030",
    "gb-18030": "gb18030",
    "hz-gb-2312": "hz",
    # Chinese (traditional): HKSCS is a superset of Big5 (and close to CP950).
    "big5": "big5hkscs",
    "big-5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "cp950": "cp950",
    # Latin: windows-1252 is what "iso-8859-1" and "us-ascii" mean in practice (WHATWG).
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
    # Korean / Japanese supersets.
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_2",
    "csiso2022jp": "iso2022_jp_2",
    # Misc.
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode20utf8": "utf-8",
}

#: Declared names that mean "no information".
_UNKNOWN = frozenset(
    {"", "unknown", "x-unknown", "unknown-8bit", "default", "x-user-defined", "charset", "none"}
)

#: Codecs whose strict decode always succeeds (or nearly), so a declaration proves little.
_WEAK = frozenset({"cp1252", "latin-1", "iso8859-15"})

#: Multi-byte CJK codecs whose strict failure suggests a sibling charset.
_CJK_MULTIBYTE = frozenset({"gb18030", "big5hkscs", "cp950"})

#: Charsets a mislabelled CJK text is most likely really in, tried when the declared one fails
#: strictly (ISO-2022-JP declared on Shift_JIS bytes is the classic Japanese case).
_SIBLINGS: dict[str, tuple[str, ...]] = {
    "gb18030": ("big5hkscs",),
    "big5hkscs": ("gb18030",),
    "cp950": ("big5hkscs", "gb18030"),
    "iso2022_jp_2": ("cp932", "euc_jp"),
    "cp932": ("euc_jp",),
    "euc_jp": ("cp932",),
}

#: Double-byte codecs tried, in order, on undeclared text that the detector could not place.
_UNDECLARED_CJK = ("cp932", "big5hkscs", "cp949")

#: Stateful 7-bit codecs that must be honoured even on ASCII-only input.
_SEVEN_BIT = frozenset({"iso2022_jp_2", "iso2022_jp", "iso2022_kr", "hz", "utf-7"})

_GB_PAIR = re.compile(rb"[\xa1-\xf7][\xa1-\xfe]")
_DBCS_PAIR = re.compile(rb"[\x81-\xfe][\x80-\xfe]")
_HIGH = bytes(range(0x80, 0x100))
_DETECT_LIMIT = 64 * 1024


@lru_cache(maxsize=256)
def normalize_charset(name: str | None) -> str | None:
    """Map a declared charset label to a Python codec name, or ``None`` if unknown/absent."""
    if not name:
        return None
    label = name.strip().strip("\"'").strip().lower()
    if label in _UNKNOWN:
        return None
    if label in _ALIASES:
        return _ALIASES[label]
    try:
        canonical = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    if canonical in ("latin-1", "iso8859-1", "ascii"):
        return "cp1252"
    return _ALIASES.get(canonical, canonical)


def _high(data: bytes) -> int:
    return len(data) - len(data.translate(None, _HIGH))


def looks_gb(data: bytes) -> bool:
    """True if the high bytes of ``data`` pair up mostly as GB2312 double-byte characters.

    Latin-1 text decodes "successfully" as GB18030 into rare ideographs because an accented
    letter is usually followed by an ASCII byte; genuine GB2312 text has both bytes >= 0xA1.
    """
    high = _high(data)
    return high > 0 and 2 * len(_GB_PAIR.findall(data)) >= 0.6 * high


def _dbcs_share(data: bytes) -> float:
    """Share of high bytes that sit in high-high pairs: near 1 for double-byte CJK text, low
    for Latin text, where an accented letter is usually followed by an ASCII one."""
    high = _high(data)
    return 2 * len(_DBCS_PAIR.findall(data)) / high if high else 0.0


def _looks_dbcs(data: bytes) -> bool:
    """Looser test for GBK text outside GB2312 (box drawing, rare ideographs). Undeclared
    Cyrillic would also pass; it is rare in mail without a charset label, which is the only
    case where this test is used."""
    return _dbcs_share(data) >= 0.9


def _strict(data: bytes, codec: str) -> str | None:
    """Strict decode; a multi-byte sequence cut off by the end of ``data`` is dropped (old
    gateways truncated subjects and bodies at a byte count, not at a character boundary)."""
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 3 or exc.start == 0:
            return None
        try:
            return data[: exc.start].decode(codec)
        except UnicodeDecodeError:
            return None
    except LookupError:
        return None


def _strict_exact(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(data: bytes) -> tuple[str, str] | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - declared dependency
        return None
    try:
        best = from_bytes(data[:_DETECT_LIMIT]).best()
    except Exception:  # noqa: BLE001 - third-party detector must never break parsing
        return None
    if best is None:
        return None
    codec = normalize_charset(best.encoding) or best.encoding
    text = _strict(data, codec)
    if text is None:
        return None
    return text, codec


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode ``data`` labelled ``declared``; return ``(text, codec_used)``. Never raises."""
    cs = normalize_charset(declared)
    if data.isascii():
        if cs in _SEVEN_BIT:
            text = _strict(data, cs)
            if text is not None:
                return text, cs
        return data.decode("ascii"), "us-ascii"
    if cs is not None and cs not in _WEAK:
        if cs in _CJK_MULTIBYTE and _high(data) >= 6:
            # UTF-8 mislabelled as GB/Big5 (some webmail): valid UTF-8 wins when it is long
            # enough that GB text passing as UTF-8 by chance is implausible.
            text = _strict_exact(data, "utf-8")
            if text is not None:
                return text, "utf-8"
        text = _strict(data, cs)
        if text is not None:
            return text, cs
    if cs != "utf-8":
        text = _strict(data, "utf-8")
        if text is not None:
            return text, "utf-8"
    for sibling in _SIBLINGS.get(cs or "", ()):
        text = _strict(data, sibling)
        if text is not None and (sibling != "gb18030" or looks_gb(data)):
            return text, sibling
    if cs != "gb18030":
        gb_text = _strict(data, "gb18030")
        if gb_text is not None and (looks_gb(data) or (cs is None and _looks_dbcs(data))):
            return gb_text, "gb18030"
    if cs in _WEAK:
        text = _strict(data, cs)
        if text is not None:
            return text, cs
        return data.decode("latin-1"), "latin-1"
    if cs is None:
        if looks_gb(data):
            return data.decode("gb18030", "replace"), "gb18030"
        if _high(data) >= 32:
            found = _detect(data)
            if found is not None:
                return found
        if _dbcs_share(data) >= 0.6:
            for codec in _UNDECLARED_CJK:
                text = _strict(data, codec)
                if text is not None:
                    return text, codec
        return data.decode("cp1252", "replace"), "cp1252"
    return data.decode(cs, "replace"), cs


def decode_8bit(data: bytes) -> str:
    """Decode raw header bytes (RFC 6532 UTF-8, or undeclared legacy 8-bit). Never raises."""
    if data.isascii():
        if b"\x1b" in data:
            # Raw ISO-2022-JP (RFC 1468) in a header, as some Japanese mailers send it.
            text = _strict_exact(data, "iso2022_jp_2")
            if text is not None:
                return text
        return data.decode("ascii")
    return decode_text(data, None)[0]
