"""ESMTP MAIL and RCPT parameters (RFC 5321 §4.1.2 ``esmtp-param``).

Supported: SIZE (RFC 1870), BODY=7BIT|8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531 §3.4),
RET/ENVID (RFC 3461 §4.3-4.4), AUTH= (RFC 4954 §5) on MAIL; NOTIFY/ORCPT (RFC 3461 §4.1-4.2)
on RCPT. Anything else is 555 5.5.4 (RFC 5321 §4.1.1.11). BINARYMIME is not offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import ReplyError

_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_VALUE = re.compile(r"[\x21-\x3c\x3e-\x7e\u0080-\U0010ffff]+")
# RFC 3461 §4 xtext, plus UTF-8 characters for RFC 6533 utf-8-addr-xtext (ORCPT=utf-8;...)
_XTEXT = re.compile(r"(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e\u0080-\U0010ffff]|\+[0-9A-F]{2})*")
_NOTIFY = frozenset({"SUCCESS", "FAILURE", "DELAY"})


@dataclass(frozen=True, slots=True)
class MailParams:
    size: int | None = None
    body: str | None = None  # "7BIT" or "8BITMIME"
    smtputf8: bool = False
    ret: str | None = None  # "FULL" or "HDRS"
    envid: str | None = None  # decoded xtext
    auth: str | None = None  # RFC 4954 §5 AUTH= value, decoded; "<>" when absent/unknown


@dataclass(frozen=True, slots=True)
class RcptParams:
    notify: frozenset[str] | None = None  # empty set means NEVER
    orcpt: str | None = None  # "rfc822;user@example.com" with the address decoded


def split_params(text: str) -> dict[str, str | None]:
    """``"SIZE=10 SMTPUTF8"`` -> ``{"SIZE": "10", "SMTPUTF8": None}``; duplicates are errors."""
    out: dict[str, str | None] = {}
    for item in text.split(" "):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not _KEYWORD.fullmatch(key) or (eq and not _VALUE.fullmatch(value)):
            raise ReplyError(codes.R501_SYNTAX, detail="bad esmtp-param")
        key = key.upper()
        if key in out:
            raise ReplyError(codes.R501_SYNTAX, detail=f"duplicate {key}")
        out[key] = value if eq else None
    return out


def decode_xtext(value: str) -> str:
    """RFC 3461 §4: ``+HH`` escapes; raises ReplyError(501) when malformed."""
    if not _XTEXT.fullmatch(value):
        raise ReplyError(codes.R501_SYNTAX, detail="bad xtext")
    out = bytearray()
    i = 0
    while i < len(value):
        if value[i] == "+":
            out.append(int(value[i + 1 : i + 3], 16))
            i += 3
        else:
            out += value[i].encode("utf-8")
            i += 1
    return out.decode("utf-8", "replace")


def _flag(params: dict[str, str | None], key: str) -> None:
    if params[key] is not None:
        raise ReplyError(codes.R501_SYNTAX, detail=f"{key} takes no value")


def _value(params: dict[str, str | None], key: str) -> str:
    value = params[key]
    if value is None:
        raise ReplyError(codes.R501_SYNTAX, detail=f"{key} needs a value")
    return value


def parse_mail_params(text: str) -> MailParams:
    params = split_params(text)
    size = body = ret = envid = auth = None
    smtputf8 = False
    for key in params:
        if key == "SIZE":
            raw = _value(params, key)
            if not raw.isdigit() or len(raw) > 20:
                raise ReplyError(codes.R501_SYNTAX, detail="bad SIZE")
            size = int(raw)
        elif key == "BODY":
            body = _value(params, key).upper()
            if body not in ("7BIT", "8BITMIME"):
                raise ReplyError(codes.R555_UNSUPPORTED_PARAMETER, detail="BODY")
        elif key == "SMTPUTF8":
            _flag(params, key)
            smtputf8 = True
        elif key == "RET":
            ret = _value(params, key).upper()
            if ret not in ("FULL", "HDRS"):
                raise ReplyError(codes.R501_SYNTAX, detail="bad RET")
        elif key == "ENVID":
            envid = decode_xtext(_value(params, key))
            if len(_value(params, key)) > 100:
                raise ReplyError(codes.R501_SYNTAX, detail="ENVID too long")
        elif key == "AUTH":
            auth = decode_xtext(_value(params, key))
        else:
            raise ReplyError(codes.R555_UNSUPPORTED_PARAMETER, detail=key)
    return MailParams(size, body, smtputf8, ret, envid, auth)


def parse_rcpt_params(text: str) -> RcptParams:
    params = split_params(text)
    notify: frozenset[str] | None = None
    orcpt: str | None = None
    for key in params:
        if key == "NOTIFY":
            items = frozenset(_value(params, key).upper().split(","))
            if items == {"NEVER"}:
                notify = frozenset()
            elif items and items <= _NOTIFY:
                notify = items
            else:
                raise ReplyError(codes.R501_SYNTAX, detail="bad NOTIFY")
        elif key == "ORCPT":
            addr_type, semi, xtext = _value(params, key).partition(";")
            if not semi or not addr_type or not xtext or len(xtext) > 500:
                raise ReplyError(codes.R501_SYNTAX, detail="bad ORCPT")
            orcpt = f"{addr_type.lower()};{decode_xtext(xtext)}"
        else:
            raise ReplyError(codes.R555_UNSUPPORTED_PARAMETER, detail=key)
    return RcptParams(notify, orcpt)
