"""Command-line grammar: verb and argument split, HELO/EHLO and BDAT arguments.

RFC 5321 §4.1.1: verbs are case-insensitive; a command is ``verb [SP argument]``. Command text is
ASCII except where SMTPUTF8 (RFC 6531 §3.3) allows UTF-8 in MAIL/RCPT paths, so lines decode as
UTF-8; undecodable lines and NUL octets are syntax errors.
"""

from __future__ import annotations

import ipaddress
import re

from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import ReplyError

_VERB = re.compile(r"[A-Za-z]{1,12}")
_LDH_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\-_\u0080-\U0010ffff]{0,61}"
    r"[A-Za-z0-9\u0080-\U0010ffff])?\.?)+"
)
_BDAT = re.compile(r"([0-9]{1,18})(?: +(LAST))? *", re.IGNORECASE)


def split_command(line: bytes) -> tuple[str, str]:
    """``b"MAIL FROM:<a@b>"`` -> ``("MAIL", "FROM:<a@b>")``; raises ReplyError(500/501)."""
    if b"\x00" in line:
        raise ReplyError(codes.R500_UNRECOGNIZED, detail="NUL in command")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReplyError(codes.R500_UNRECOGNIZED, detail="command is not UTF-8") from e
    verb, _, arg = text.partition(" ")
    if not _VERB.fullmatch(verb):
        raise ReplyError(codes.R500_UNRECOGNIZED)
    return verb.upper(), arg.strip(" ")


def parse_helo_arg(arg: str) -> str:
    """RFC 5321 §4.1.1.1: a domain or an address literal. The server must not refuse a
    mismatch with the client's address (§4.1.4), so only the syntax is checked here."""
    if not arg or " " in arg:
        raise ReplyError(codes.R501_HELO_SYNTAX)
    if arg.startswith("[") and arg.endswith("]"):
        literal = arg[1:-1]
        if literal[:5].lower() == "ipv6:":
            literal = literal[5:]
        try:
            ipaddress.ip_address(literal)
        except ValueError as e:
            raise ReplyError(codes.R501_HELO_SYNTAX) from e
        return arg
    if len(arg) > 255 or not _LDH_DOMAIN.fullmatch(arg):
        raise ReplyError(codes.R501_HELO_SYNTAX)
    return arg


def parse_bdat_args(arg: str) -> tuple[int, bool] | None:
    """``"1000 LAST"`` -> ``(1000, True)``; None when malformed (RFC 3030 §2)."""
    m = _BDAT.fullmatch(arg.strip(" "))
    if m is None:
        return None
    return int(m.group(1)), m.group(2) is not None
