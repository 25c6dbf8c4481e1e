"""Reverse-path and forward-path grammar (RFC 5321 §4.1.2, with RFC 6531 §3.3 UTF-8).

``parse_path("<user@example.com> SIZE=10")`` returns the mailbox and the parameter text. Source
routes (``<@relay:user@example.com>``) are accepted and ignored as RFC 5321 §C and §4.1.1.3
require, so they can never steer relaying. Length limits follow RFC 5321 §4.5.3.1: local part 64
octets, domain 255, path 256. ``<Postmaster>`` without a domain is allowed as a forward-path
(RFC 5321 §4.5.1).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply, ReplyError

_UTF8 = "\u0080-\U0010ffff"
_ATEXT = rf"[A-Za-z0-9!#$%&'*+\-/=?^_`{{|}}~{_UTF8}]"
_DOT_STRING = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED = rf'"(?:[\x20\x21\x23-\x5b\x5d-\x7e{_UTF8}]|\\[\x20-\x7e])*"'
_LABEL = rf"[A-Za-z0-9{_UTF8}](?:[A-Za-z0-9\-{_UTF8}]*[A-Za-z0-9{_UTF8}])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_LITERAL = r"\[[A-Za-z0-9:.]+\]"
_ADL = rf"@(?:{_DOMAIN}|{_LITERAL})(?:,@(?:{_DOMAIN}|{_LITERAL}))*:"
_PATH = re.compile(
    rf"<(?:{_ADL})?(?P<local>{_DOT_STRING}|{_QUOTED})@(?P<domain>{_DOMAIN}|{_LITERAL})>"
)
_POSTMASTER = re.compile(r"<postmaster>", re.IGNORECASE)
_MAX_PATH_TEXT = 1024


@dataclass(frozen=True, slots=True)
class Mailbox:
    """``local@domain`` as the client wrote it (domain lower-cased when ASCII)."""

    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}" if self.domain else self.local

    @property
    def is_ascii(self) -> bool:
        return self.local.isascii() and self.domain.isascii()

    @property
    def is_address_literal(self) -> bool:
        return self.domain.startswith("[")


def _literal_ok(literal: str) -> bool:
    inner = literal[1:-1]
    if inner[:5].lower() == "ipv6:":
        inner = inner[5:]
        try:
            return ipaddress.ip_address(inner).version == 6
        except ValueError:
            return False
    try:
        return ipaddress.ip_address(inner).version == 4
    except ValueError:
        return False


def parse_path(text: str, *, null_ok: bool, bad: Reply) -> tuple[Mailbox | None, str]:
    """Parse ``<path>`` at the start of ``text``; returns (mailbox or None for ``<>``, rest).

    ``bad`` is the reply raised on a syntax error (501 5.1.7 for senders, 501 5.1.3 for
    recipients).
    """
    if null_ok and text.startswith("<>"):
        return None, _rest(text[2:], bad)
    if not null_ok and _POSTMASTER.match(text):
        return Mailbox("postmaster", ""), _rest(text[12:], bad)
    m = _PATH.match(text[:_MAX_PATH_TEXT])
    if m is None:
        raise ReplyError(bad)
    local, domain = m.group("local"), m.group("domain")
    if domain.startswith("["):
        if not _literal_ok(domain):
            raise ReplyError(bad)
    elif domain.isascii():
        domain = domain.lower()
    if (
        len(local.encode()) > 64
        or len(domain.encode()) > 255
        or len(local.encode()) + len(domain.encode()) + 1 > 254
    ):
        raise ReplyError(bad)
    return Mailbox(local, domain), _rest(text[m.end() :], bad)


def _rest(text: str, bad: Reply) -> str:
    if text and not text.startswith(" "):
        raise ReplyError(bad)
    return text.strip(" ")


def split_keyword(arg: str, keyword: str) -> str:
    """``"FROM:<a@b>"`` -> ``"<a@b>"`` for keyword ``FROM``; tolerates spaces after the colon
    (common in the wild) but not before it."""
    head = arg[: len(keyword) + 1]
    if head.upper() != keyword + ":":
        raise ReplyError(codes.R501_SYNTAX)
    return arg[len(keyword) + 1 :].lstrip(" ")
