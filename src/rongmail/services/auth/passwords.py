"""Password hashing with argon2id (RFC 9106) and the password policy.

Hashes are PHC strings from argon2-cffi (argon2id, t=3, m=64 MiB, p=2: RFC 9106 §4's second
recommended option with less memory for small servers); ``needs_rehash`` lets login upgrade old
parameters. Verification runs off the event loop (it is deliberately slow) and spends the same
time for unknown users. Plain-text passwords are never logged or stored.

The policy (:func:`check_policy`) rejects short passwords, too few character classes and
guessable ones: the shipped list ``rongmail/data/common-passwords.txt`` (written for this
project, including Chinese pinyin and lucky-number favourites) plus pattern rules
(:func:`weakness`). Length and classes come from the tenant's policy (admin console).

Rotation (MLPS 2.0 level 3, optional): :func:`max_age_days` combines
``security.password_max_age_days`` with the tenant policy's ``max_age_days``;
:func:`password_expired` compares against ``password_state.changed_at`` (migration 0106).
History (tenant policy ``history`` = N): a new password may not verify against any of the last N
hashes, the current one included (:func:`matches_any_async`; previous hashes in
``password_history``, migration 0206; enforced by ``actions.accounts.do_set_password``).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Sequence
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from rongmail.errors import ValidationError

# RFC 9106 §4 second recommended option, lighter memory for small servers.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)
MIN_LENGTH = 8
_LIST = "common-passwords.txt"
_DECORATION = re.compile(r"^[\d\W_]*(.*?)[\d\W_]*$", re.S)
_DATE = re.compile(r"^(19|20)\d\d[-./]?(0[1-9]|1[0-2])[-./]?(0[1-9]|[12]\d|3[01])$")
_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz",
         "1qaz2wsx3edc4rfv5tgb", "qazwsxedcrfvtgbyhn", "!@#$%^&*()")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list (``rongmail/data/common-passwords.txt``), lower-case."""
    text = resources.files("rongmail").joinpath("data", _LIST).read_text("utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def _is_run(s: str) -> bool:
    """A keyboard row or alphabet run, forwards or backwards, or one repeated short unit."""
    if len(s) < 3:
        return True
    for unit in range(1, len(s) // 2 + 1):
        if len(s) % unit == 0 and s[:unit] * (len(s) // unit) == s:
            return True
    return any(s in row or s in row[::-1] for row in _ROWS)


def weakness(password: str, *, address: str = "") -> str | None:
    """Why ``password`` is too guessable (a catalogue key), or None.

    Checks the shipped common-password list (also with digits and symbols stripped from both
    ends, and with common letter substitutions undone), keyboard walks and runs, repeated units,
    dates, and the account's own name or domain."""
    low = password.lower()
    core = _DECORATION.match(low)
    stripped = core.group(1) if core else low
    unleet = stripped.translate(str.maketrans("@0134$5!", "aoieassi"))
    words = common_passwords()
    if low in words or stripped in words or unleet in words:
        return "password.too_common"
    if _is_run(low) or (stripped and _is_run(stripped) and len(stripped) >= len(low) - 4):
        return "password.too_guessable"
    if _DATE.match(low):
        return "password.too_guessable"
    if address:
        local, _, domain = address.lower().partition("@")
        parts = {local, *re.split(r"[._+-]", local), domain.split(".")[0]}
        if address.lower() in low or any(
                len(p) >= 4 and p in low and len(low) - len(p) < 6 for p in parts):
            return "password.contains_name"
    return None


def check_policy(password: str, *, min_length: int = MIN_LENGTH, min_classes: int = 1,
                 address: str = "") -> None:
    """Raise :class:`ValidationError` (with a catalogue key) if the password is unacceptable:
    shorter than ``min_length``, fewer than ``min_classes`` character classes (lower, upper,
    digit, other), or guessable (:func:`weakness`)."""
    if len(password) < min_length:
        raise ValidationError("password.too_short", min=min_length)
    classes = sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                   any(c.isdigit() for c in password),
                   any(not c.isalnum() for c in password)))
    if classes < min_classes:
        raise ValidationError("password.too_simple", classes=min_classes)
    reason = weakness(password, address=address)
    if reason:
        raise ValidationError(reason)


def max_age_days(server_days: int, tenant_days: int) -> int:
    """Effective rotation period: the stricter of the server setting and the tenant policy
    (0 = off in either)."""
    days = [d for d in (server_days, tenant_days) if d > 0]
    return min(days) if days else 0


def password_expired(changed_at: int | None, days: int, now: int) -> bool:
    """Whether a password set at ``changed_at`` (unix seconds; None = unknown, never expires)
    is older than ``days`` (0 = rotation off)."""
    return bool(days) and changed_at is not None and now - changed_at >= days * 86400


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        # still spend comparable time so timing does not reveal unknown users
        try:
            _HASHER.verify(_DUMMY, password)
        except VerificationError:
            pass
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


async def verify_password_async(stored_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, stored_hash, password)


def matches_any(stored_hashes: Sequence[str | None], password: str) -> bool:
    """Whether ``password`` is one of ``stored_hashes`` (password history; blocking: argon2id
    per hash, call through :func:`matches_any_async`)."""
    return any(h and verify_password(h, password) for h in stored_hashes)


async def matches_any_async(stored_hashes: Sequence[str | None], password: str) -> bool:
    """:func:`matches_any` off the event loop (one worker thread for the whole list)."""
    if not any(stored_hashes):
        return False
    return await asyncio.to_thread(matches_any, stored_hashes, password)


_DUMMY = _HASHER.hash("rongmail-dummy-password")
