"""Password hashing with argon2id (RFC 9106) and the password policy.

Hashes are PHC strings from argon2-cffi; ``needs_rehash`` lets login upgrade old parameters.
Verification runs off the event loop (it is deliberately slow). Plain-text passwords are never
logged or stored.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from rongmail.errors import ValidationError

# RFC 9106 §4 second recommended option, lighter memory for small servers.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)
MIN_LENGTH = 8
_COMMON = frozenset(
    {
        "password",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyui",
        "11111111",
        "88888888",
        "abc12345",
        "password1",
        "iloveyou",
        "woaini1314",
        "5201314a",
        "a1234567",
        "qq123456",
        "admin123",
        "00000000",
        "66666666",
        "12341234",
        "1qaz2wsx",
        "asdfghjk",
    }
)


def check_policy(password: str, *, min_length: int = MIN_LENGTH) -> None:
    """Raise :class:`ValidationError` (with a catalogue key) if the password is unacceptable."""
    if len(password) < min_length:
        raise ValidationError("password.too_short", min=min_length)
    if password.lower() in _COMMON:
        raise ValidationError("password.too_common")


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


_DUMMY = _HASHER.hash("rongmail-dummy-password")
