"""One error model for RongMail (DESIGN.md house rule 5).

Every failure that may reach a peer is a :class:`MailError` subclass. Each knows:

* ``temporary`` — whether retrying later may succeed (SMTP 4xx vs 5xx, IMAP ``NO`` vs ``BAD``,
  JMAP ``serverFail`` vs a request error);
* ``key`` — the message-catalogue key of the *safe public* text (rendered in the user's locale by
  :func:`rongmail.i18n.t`); internals (paths, SQL, stack traces) never go into it;
* ``params`` — values interpolated into the public text (never secrets).

Each protocol renders a MailError exactly once, at its edge. Anything that is not a MailError is
a bug; edges log it and answer with the generic :class:`InternalError` text.

This module imports only the standard library (``core`` may import it).
"""

from __future__ import annotations

from typing import Any, ClassVar


class MailError(Exception):
    """Base class. ``temporary`` is a class default that instances may override."""

    temporary: ClassVar[bool] = False
    default_key: ClassVar[str] = "error.internal"

    def __init__(self, key: str | None = None, /, *, detail: str = "", **params: Any) -> None:
        self.key = key or self.default_key
        self.params = params
        #: Operator-facing detail for logs only; never shown to peers.
        self.detail = detail
        super().__init__(f"{self.key} {params} {detail}".strip())

    def public(self, locale: str = "en") -> str:
        """The safe, translated text for peers."""
        from rongmail.i18n import t  # local import keeps this module dependency-free

        return t(self.key, locale, **self.params)


class InternalError(MailError):
    temporary = True
    default_key = "error.internal"


class TemporaryError(MailError):
    """A transient failure: storage busy, DNS timeout, peer unavailable."""

    temporary = True
    default_key = "error.temporary"


class ValidationError(MailError):
    """Bad input from a user or peer (malformed address, bad argument)."""

    default_key = "error.invalid"


class NotFound(MailError):
    default_key = "error.not_found"


class AlreadyExists(MailError):
    default_key = "error.exists"


class PermissionDenied(MailError):
    default_key = "error.forbidden"


class AuthError(MailError):
    """Authentication failed. The public text never says which part was wrong."""

    default_key = "auth.failed"


class QuotaExceeded(MailError):
    default_key = "error.quota"


class TooLarge(MailError):
    default_key = "error.too_large"


class RateLimited(MailError):
    temporary = True
    default_key = "error.rate_limited"


class StorageFull(MailError):
    """The disk or the database refused a write for lack of space; nothing was changed."""

    temporary = True
    default_key = "error.storage_full"


class ConfigError(MailError):
    """Configuration is invalid. ``params`` carry file, key and what is allowed."""

    default_key = "config.invalid"


class Conflict(MailError):
    """A concurrent change won (e.g. IMAP UNCHANGEDSINCE, JMAP ifInState)."""

    default_key = "error.conflict"
