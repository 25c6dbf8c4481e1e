"""TOTP second factor (RFC 6238, HOTP RFC 4226) and single-use recovery codes.

* Secrets: 160 random bits (RFC 4226 §4 R6), base32, shown once as an ``otpauth://`` key URI
  for authenticator apps; stored sealed under the tenant data key (``actions.auth``).
* Verification accepts the current 30-second step and ``window`` steps each side (RFC 6238
  §5.2 clock drift) and returns the matched step; the caller stores it so that a code is never
  accepted twice and never a code older than the last one accepted (replay, RFC 6238 §5.2).
  Codes are compared in constant time.
* Recovery codes: 16 base32 characters (80 random bits) shown once in groups of four; only their
  SHA-256 is stored (80 bits make an offline search infeasible, so a slow hash is not needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp

STEP = 30
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_secret() -> str:
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP)


def matching_step(secret: str, code: str, *, window: int = 1, now: float | None = None
                  ) -> int | None:
    """The time step whose code equals ``code`` (within ``window``), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    step = current_step(now)
    found = None
    for s in range(step - window, step + window + 1):  # no early exit: constant work
        if hmac.compare_digest(totp.generate_otp(s), code):
            found = s
    return found


def new_recovery_codes(n: int) -> list[str]:
    out = []
    for _ in range(n):
        raw = "".join(secrets.choice(_B32) for _ in range(16))
        out.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return out


def normalize_recovery_code(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def recovery_hash(code: str) -> str:
    return hashlib.sha256(normalize_recovery_code(code).encode()).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    c = normalize_recovery_code(code)
    return len(c) == 16 and all(ch in _B32 for ch in c)
