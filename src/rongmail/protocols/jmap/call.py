"""What one method invocation sees: the account, the request's creation ids and typed arguments.

:class:`JmapDeps` is built once by :func:`rongmail.protocols.jmap.register` from ``HttpDeps``;
:class:`Call` is built per invocation by the dispatcher. :class:`Args` reads arguments with the
types RFC 8620 §1.1 prescribes, raising ``invalidArguments`` otherwise (never a 500).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rongmail.actions.context import ActionContext
from rongmail.core.models import Account
from rongmail.protocols.jmap.mail.render_cache import RenderCache
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import (
    ACCOUNT_NOT_FOUND,
    INVALID_ARGUMENTS,
    MethodError,
    SetError,
)
from rongmail.protocols.jmap.proto.request import Limits
from rongmail.store.reader import Reader


@dataclass
class JmapDeps:
    ctx: ActionContext
    reader: Reader
    limits: Limits
    #: public host name for ``Message-ID`` domains when the account's domain is unknown
    hostname: str = "localhost"
    #: rendered list-view Emails by (id, modseq, properties) (``mail/render_cache.py``)
    email_cache: RenderCache = field(default_factory=RenderCache)


@dataclass
class Call:
    deps: JmapDeps
    account: Account
    using: frozenset[str]
    #: creation id -> JMAP id, shared by every call of the request (RFC 8620 §3.3, §5.3)
    created_ids: dict[str, str]
    locale: str = "en"
    #: extra responses from implicit calls (RFC 8620 §5.4 onSuccess..., RFC 8621 §7.5)
    implicit: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def account_id(self) -> int:
        return self.account.id

    @property
    def jmap_account_id(self) -> str:
        return ids.encode(ids.ACCOUNT, self.account.id)

    def check_account(self, args: Args) -> None:
        if args.string("accountId") != self.jmap_account_id:
            raise MethodError(ACCOUNT_NOT_FOUND)

    def resolve(self, prefix: str, value: object) -> int | None:
        """A database id from a JMAP id or a ``#creationId`` reference (RFC 8620 §5.3)."""
        if isinstance(value, str) and value.startswith("#"):
            value = self.created_ids.get(value[1:])
        return ids.decode(prefix, value)

    def require(self, prefix: str, value: object, prop: str) -> int:
        """Like :meth:`resolve` for a property of an object being set: invalid → SetError."""
        got = self.resolve(prefix, value)
        if got is None:
            raise SetError("invalidProperties", f"bad id in {prop}", properties=[prop])
        return got


class Args:
    """Typed access to a method's arguments."""

    def __init__(self, data: dict[str, Any], known: Iterable[str]) -> None:
        self.data = data
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise MethodError(INVALID_ARGUMENTS, f"unknown argument '{unknown[0]}'")

    def _bad(self, name: str, what: str) -> MethodError:
        return MethodError(INVALID_ARGUMENTS, f"'{name}' must be {what}")

    def string(self, name: str) -> str:
        v = self.data.get(name)
        if not isinstance(v, str):
            raise self._bad(name, "a string")
        return v

    def opt_str(self, name: str) -> str | None:
        v = self.data.get(name)
        if v is not None and not isinstance(v, str):
            raise self._bad(name, "a string or null")
        return v

    def opt_int(self, name: str, default: int | None = None, *, minimum: int | None = None
                ) -> int | None:
        v = self.data.get(name, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or abs(v) > 2**53 - 1:
            raise self._bad(name, "an integer")
        if minimum is not None and v < minimum:
            raise self._bad(name, f">= {minimum}")
        return v

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        v = self.opt_int(name, default, minimum=minimum)
        return default if v is None else v

    def boolean(self, name: str, default: bool = False) -> bool:
        v = self.data.get(name, default)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self._bad(name, "a boolean")
        return v

    def opt_str_list(self, name: str) -> list[str] | None:
        v = self.data.get(name)
        if v is None:
            return None
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self._bad(name, "a list of strings")
        return v

    def opt_obj(self, name: str) -> dict[str, Any] | None:
        v = self.data.get(name)
        if v is not None and not isinstance(v, dict):
            raise self._bad(name, "an object")
        return v

    def opt_list(self, name: str) -> list[Any] | None:
        v = self.data.get(name)
        if v is not None and not isinstance(v, list):
            raise self._bad(name, "a list")
        return v
