"""The reply table is consistent (DESIGN.md house rule 4; RFC 5321 §4.2, RFC 3463, RFC 2034)."""

from __future__ import annotations

import re

from rongmail.protocols.smtp import codes

TABLE = codes.all_replies()
_NAME = re.compile(r"R([2-5][0-9]{2})_[A-Z0-9_]+")
_STATUS = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})")


def test_table_is_not_empty() -> None:
    assert len(TABLE) > 50


def test_name_carries_the_code() -> None:
    for name, reply in TABLE.items():
        m = _NAME.fullmatch(name)
        assert m, name
        assert int(m.group(1)) == reply.code, name


def test_enhanced_status_matches_class() -> None:
    for name, reply in TABLE.items():
        if reply.status is None:
            # RFC 2034 §3: no enhanced code on the greeting, HELO/EHLO and 3xx intermediates
            assert reply.code // 100 == 3 or name in ("R220_GREETING", "R250_EHLO", "R250_HELO"), (
                name
            )
            continue
        m = _STATUS.fullmatch(reply.status)
        assert m, name
        assert int(m.group(1)) == reply.code // 100, name
        assert 0 <= int(m.group(2)) <= 7, f"{name}: subject must be 0-7 (RFC 3463 §3)"


def test_no_duplicates() -> None:
    seen: dict[tuple[int, str | None, str], str] = {}
    for name, reply in TABLE.items():
        key = (reply.code, reply.status, reply.text)
        assert key not in seen, f"{name} duplicates {seen[key]}"
        seen[key] = name


def test_text_is_single_line_ascii() -> None:
    for name, reply in TABLE.items():
        assert reply.text.isascii() and "\r" not in reply.text and "\n" not in reply.text, name
        assert not reply.lines, name


def test_encode_multiline() -> None:
    r = codes.R250_EHLO.format(hostname="h", helo="c").with_lines(("PIPELINING", "DSN"))
    assert r.encode() == b"250-h greets c\r\n250-PIPELINING\r\n250 DSN\r\n"
    assert codes.R550_NO_SUCH_USER.encode() == b"550 5.1.1 No such user here\r\n"


def test_reply_error_temporary_follows_code() -> None:
    assert codes.ReplyError(codes.R451_LOCAL_ERROR).temporary
    assert not codes.ReplyError(codes.R550_NO_SUCH_USER).temporary
