"""JMAP error types (RFC 8620 §3.6) and the mapping from RongMail's one error model.

* :class:`RequestError` — request-level problems (§3.6.1), rendered as RFC 7807 problem details
  with HTTP 400 (``notJSON``, ``notRequest``, ``unknownCapability``, ``limit``).
* :class:`MethodError` — method-level errors (§3.6.2), rendered as an ``error`` invocation.
* :class:`SetError` — per-object failures inside ``/set``, ``/copy``, ``/import`` (§5.3).

:func:`method_error_from` maps :class:`rongmail.errors.MailError` subclasses to method errors once,
at the edge; anything that is not a MailError becomes ``serverFail`` with a generic description
(internals never reach the client).
"""

from __future__ import annotations

from typing import Any

from rongmail import errors

URN = "urn:ietf:params:jmap:error:"


class JmapError(Exception):
    """Base class: ``type`` is the RFC error type, ``description`` safe text for developers."""

    def __init__(self, type_: str, description: str | None = None, **extra: Any) -> None:
        super().__init__(f"{type_}: {description or ''}")
        self.type = type_
        self.description = description
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, **self.extra}
        if self.description:
            out["description"] = self.description
        return out


class RequestError(JmapError):
    """RFC 8620 §3.6.1 (problem details, RFC 7807)."""

    status = 400

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": URN + self.type, "status": self.status, **self.extra}
        if self.description:
            out["detail"] = self.description
        return out


class MethodError(JmapError):
    """RFC 8620 §3.6.2 (and per-method errors such as ``stateMismatch``, ``anchorNotFound``)."""


class SetError(JmapError):
    """RFC 8620 §5.3 SetError (``invalidProperties`` carries ``properties``)."""


# Method-level error type names (RFC 8620 §3.6.2, §5.x; RFC 8621)
SERVER_UNAVAILABLE = "serverUnavailable"
SERVER_FAIL = "serverFail"
SERVER_PARTIAL_FAIL = "serverPartialFail"
UNKNOWN_METHOD = "unknownMethod"
INVALID_ARGUMENTS = "invalidArguments"
INVALID_RESULT_REFERENCE = "invalidResultReference"
FORBIDDEN = "forbidden"
ACCOUNT_NOT_FOUND = "accountNotFound"
ACCOUNT_NOT_SUPPORTED = "accountNotSupportedByMethod"
ACCOUNT_READ_ONLY = "accountReadOnly"
REQUEST_TOO_LARGE = "requestTooLarge"
STATE_MISMATCH = "stateMismatch"
CANNOT_CALCULATE_CHANGES = "cannotCalculateChanges"
TOO_MANY_CHANGES = "tooManyChanges"
ANCHOR_NOT_FOUND = "anchorNotFound"
UNSUPPORTED_SORT = "unsupportedSort"
UNSUPPORTED_FILTER = "unsupportedFilter"
FROM_ACCOUNT_NOT_FOUND = "fromAccountNotFound"
RATE_LIMIT = "rateLimit"


def invalid_arguments(description: str) -> MethodError:
    return MethodError(INVALID_ARGUMENTS, description)


def method_error_from(exc: BaseException, locale: str = "en") -> MethodError:
    """Map any exception raised by a method to the error invocation the client sees."""
    if isinstance(exc, MethodError):
        return exc
    if isinstance(exc, errors.ValidationError):
        return MethodError(INVALID_ARGUMENTS, exc.public(locale))
    if isinstance(exc, errors.PermissionDenied):
        return MethodError(FORBIDDEN, exc.public(locale))
    if isinstance(exc, errors.RateLimited):
        return MethodError(RATE_LIMIT, exc.public(locale))
    if isinstance(exc, errors.TooLarge):
        return MethodError(REQUEST_TOO_LARGE, exc.public(locale))
    if isinstance(exc, errors.TemporaryError):
        return MethodError(SERVER_UNAVAILABLE, exc.public(locale))
    if isinstance(exc, errors.MailError) and not isinstance(exc, errors.InternalError):
        return MethodError(INVALID_ARGUMENTS, exc.public(locale))
    return MethodError(SERVER_FAIL, errors.InternalError().public(locale))


def set_error_from(exc: BaseException, locale: str = "en") -> SetError:
    """Map an exception raised for one object of a /set to its SetError (RFC 8620 §5.3)."""
    if isinstance(exc, SetError):
        return exc
    if isinstance(exc, errors.NotFound):
        return SetError("notFound", exc.public(locale))
    if isinstance(exc, errors.AlreadyExists):
        return SetError("alreadyExists", exc.public(locale))
    if isinstance(exc, errors.QuotaExceeded):
        return SetError("overQuota", exc.public(locale))
    if isinstance(exc, errors.TooLarge):
        return SetError("tooLarge", exc.public(locale))
    if isinstance(exc, errors.RateLimited):
        return SetError("rateLimit", exc.public(locale))
    if isinstance(exc, errors.PermissionDenied):
        return SetError("forbidden", exc.public(locale))
    if isinstance(exc, errors.ValidationError):
        return SetError("invalidProperties", exc.public(locale))
    if isinstance(exc, errors.MailError) and not isinstance(exc, errors.InternalError):
        return SetError("invalidProperties", exc.public(locale))
    return SetError(SERVER_FAIL, errors.InternalError().public(locale))
