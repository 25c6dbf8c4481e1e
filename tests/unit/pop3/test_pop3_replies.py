"""The POP3 reply table is consistent (DESIGN.md rule 4) and errors render once, safely."""

from __future__ import annotations

import re

from rongmail.errors import (
    AuthError,
    Conflict,
    MailError,
    NotFound,
    PermissionDenied,
    RateLimited,
    StorageFull,
    ValidationError,
)
from rongmail.i18n import catalogue
from rongmail.protocols.pop3 import replies


def test_every_reply_is_named_after_what_it_says() -> None:
    names = {v: k for k, v in vars(replies).items() if isinstance(v, replies.Reply)}
    assert len(replies.ALL) == len(names) >= 20
    for reply in replies.ALL:
        name = names[reply]
        assert name.startswith("OK_" if reply.ok else "ERR_")
        if reply.code is not None:
            assert reply.code in replies.CODES
            assert name.endswith("_" + reply.code.replace("/", "_").replace("-", "_"))
        assert not reply.ok or reply.code is None


def test_every_key_is_in_both_catalogues_and_ascii_in_english() -> None:
    keys = {r.key for r in replies.ALL} | set(replies.ERROR_CODES)
    for key in keys:
        assert key in catalogue("en") and key in catalogue("zh-CN"), key
    for key, text in catalogue("en").items():
        if key.startswith("pop3."):
            assert text.isascii(), key
            assert key in catalogue("zh-CN")


def test_error_codes() -> None:
    cases: list[tuple[MailError, str | None]] = [
        (AuthError(), "AUTH"),
        (RateLimited(), "AUTH"),
        (PermissionDenied("pop3.err.in_use"), "IN-USE"),
        (PermissionDenied("pop3.err.plaintext"), "AUTH"),
        (NotFound("pop3.err.no_inbox"), "SYS/PERM"),
        (StorageFull(), "SYS/TEMP"),
        (ValidationError("pop3.err.syntax"), None),
        (Conflict(), None),
    ]
    for err, code in cases:
        assert replies.error_code(err) == code


def test_render_error_hides_detail() -> None:
    line = replies.render_error(AuthError(detail="hash mismatch for /var/secret"))
    assert line == b"-ERR [AUTH] Invalid user name or password\r\n"
    assert re.fullmatch(rb"[\x20-\x7e]*\r\n", replies.render_error(NotFound("pop3.err.no_inbox")))
