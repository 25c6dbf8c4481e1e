"""SASL OAUTHBEARER (RFC 7628) and XOAUTH2 (Google's pre-standard form) message parsing,
sans-IO. The exchanges that use it (IMAP ``AUTHENTICATE`` RFC 9051 §6.2.2, SMTP ``AUTH``
RFC 4954, POP3 ``AUTH`` RFC 5034) live in ``protocols/sasl.py``.

* OAUTHBEARER client response (RFC 7628 §3.1): a GS2 header ``n,a=<authzid>,`` then
  ``\\x01``-separated ``key=value`` pairs (``host``, ``port``, ``auth=Bearer <token>``) ending in
  ``\\x01\\x01``. Channel binding (``p=``) is refused (§3.1: this mechanism does not support it).
* XOAUTH2: ``user=<address>\\x01auth=Bearer <token>\\x01\\x01``.
* On failure the server sends :func:`error_challenge` (RFC 7628 §3.2.2: a JSON status
  object) and, after the client's ``\\x01`` dummy response, fails the exchange
  (§3.2.3); XOAUTH2 clients follow the same flow.

The token is then checked by ``Authenticator.authenticate_bearer`` (same risk, network and
audit path as every login). Tokens are never logged and never appear in a ``repr``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from rongmail.errors import AuthError

_TOKEN68 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")


@dataclass(frozen=True, slots=True)
class BearerCredentials:
    authzid: str  # the user the client acts as ("" when absent)
    token: str = field(repr=False)
    host: str = ""
    port: str = ""


def _token(auth: str) -> str:
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c not in _TOKEN68 for c in token):
        raise AuthError(detail="sasl: bad auth value")
    return token


def _pairs(text: str) -> dict[str, str]:
    if not text.endswith("\x01\x01"):
        raise AuthError(detail="sasl: unterminated")
    out: dict[str, str] = {}
    for kv in text[:-2].split("\x01"):
        if not kv:
            continue
        key, sep, value = kv.partition("=")
        if not sep or not key.isalpha() or key in out:
            raise AuthError(detail="sasl: bad key/value")
        out[key] = value
    return out


def _saslname(value: str) -> str:
    """RFC 5801 §4 saslname: ``=2C`` is ``,`` and ``=3D`` is ``=``; anything else after ``=``
    is malformed."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "=":
            esc = value[i : i + 3]
            if esc == "=2C":
                out.append(",")
            elif esc == "=3D":
                out.append("=")
            else:
                raise AuthError(detail="sasl: bad saslname")
            i += 3
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def parse_oauthbearer(message: bytes) -> BearerCredentials:
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthError(detail="sasl: not utf-8") from None
    gs2, sep, rest = text.partition("\x01")
    if not sep:
        raise AuthError(detail="sasl: no gs2 header")
    parts = gs2.split(",")
    if len(parts) != 3 or parts[2] != "" or parts[0] not in ("n", "y"):
        raise AuthError(detail="sasl: channel binding or bad gs2 header")
    authzid = ""
    if parts[1]:
        if not parts[1].startswith("a="):
            raise AuthError(detail="sasl: bad gs2 authzid")
        authzid = _saslname(parts[1][2:])
    kv = _pairs("\x01" + rest)
    if "auth" not in kv:
        raise AuthError(detail="sasl: no auth")
    return BearerCredentials(authzid, _token(kv["auth"]), kv.get("host", ""), kv.get("port", ""))


def parse_xoauth2(message: bytes) -> BearerCredentials:
    try:
        kv = _pairs(message.decode("utf-8"))
    except UnicodeDecodeError:
        raise AuthError(detail="sasl: not utf-8") from None
    if "user" not in kv or "auth" not in kv:
        raise AuthError(detail="sasl: xoauth2 needs user and auth")
    return BearerCredentials(kv["user"], _token(kv["auth"]))


def error_challenge(status: str = "invalid_token", scope: str = "") -> bytes:
    """The server's failure message (RFC 7628 §3.2.2), to be sent base64-encoded."""
    body: dict[str, str] = {"status": status, "schemes": "bearer"}
    if scope:
        body["scope"] = scope
    return json.dumps(body, separators=(",", ":")).encode()
