"""How IMAP renders RongMail's errors: the one table from error type to response code.

Role: :func:`error_reply` turns a :class:`~rongmail.errors.MailError` raised anywhere below a
command handler into ``(status, code, key, params)`` for the tagged reply, once, at the edge
(DESIGN.md rule 5). Response codes are those of RFC 9051 §7.1 and RFC 5530.

Invariants: a peer sees only the error's catalogue text and a response code, never ``detail``;
an exception that is not a MailError is answered ``NO [SERVERBUG]`` with the generic text.
"""

from __future__ import annotations

from typing import Any, Literal

from rongmail import errors as e

__all__ = ["CODES", "BadCommand", "NoCommand", "error_reply"]


class BadCommand(e.ValidationError):
    """The command is not valid now (wrong state, bad argument): tagged ``BAD``."""

    default_key = "imap.bad.state"


class NoCommand(e.MailError):
    """A command that is well-formed but refused, with an explicit response code."""

    default_key = "error.invalid"

    def __init__(self, key: str, /, *, code: str | None = None, **params: Any) -> None:
        super().__init__(key, **params)
        self.code = code


#: MailError type -> RFC 5530 response code (most specific first).
CODES: tuple[tuple[type[e.MailError], str], ...] = (
    (e.AuthError, "AUTHENTICATIONFAILED"),
    (e.RateLimited, "LIMIT"),
    (e.PermissionDenied, "NOPERM"),
    (e.NotFound, "NONEXISTENT"),
    (e.AlreadyExists, "ALREADYEXISTS"),
    (e.QuotaExceeded, "OVERQUOTA"),
    (e.TooLarge, "TOOBIG"),
    (e.Conflict, "MODIFIED"),
    (e.StorageFull, "UNAVAILABLE"),
    (e.TemporaryError, "UNAVAILABLE"),
    (e.InternalError, "SERVERBUG"),
    (e.ValidationError, "CANNOT"),
)


def error_reply(err: e.MailError) -> tuple[Literal["BAD", "NO"], str | None]:
    """``(status, response code)`` for an error raised by a handler."""
    if isinstance(err, BadCommand):
        return "BAD", None
    if isinstance(err, NoCommand):
        return "NO", err.code
    for cls, code in CODES:
        if isinstance(err, cls):
            return "NO", code
    return "NO", "UNAVAILABLE" if err.temporary else None
