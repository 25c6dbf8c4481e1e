"""CAPABILITY, NOOP, LOGOUT, ID, ENABLE, CHECK (RFC 9051 §6.1, §6.3.1, §6.4.1; RFC 2971;
RFC 5161).

Invariants: ENABLE only reports what it turned on, and turning on QRESYNC also turns on
CONDSTORE (RFC 7162 §3.2.3); UTF8=ACCEPT/IMAP4rev2 switch the parser to UTF-8 mailbox names
for every following command.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from rongmail.protocols import sasl

from ..base import Ok, State
from ..proto import commands as c
from ..proto.response import Atom, untagged

if TYPE_CHECKING:
    from ..session import Session

#: ENABLE-able extensions (RFC 5161 §4 registry entries we implement).
ENABLEABLE = ("CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2")


def capabilities(s: Session) -> tuple[str, ...]:
    """What this session may use now (RFC 9051 §6.1.1): it depends on the state, TLS,
    compression and two options only, so the list is built once per combination."""
    opts = s.options
    return _capabilities(
        not_authenticated=s.state is State.NOT_AUTHENTICATED,
        offer_starttls=not s.tls_active and s.deps.tls is not None,
        auth_allowed=s.tls_active or opts.allow_plaintext_auth,
        compressed=s.compressed,
        max_append=opts.limits.max_append,
    )


@lru_cache(maxsize=64)
def _capabilities(
    *, not_authenticated: bool, offer_starttls: bool, auth_allowed: bool, compressed: bool,
    max_append: int,
) -> tuple[str, ...]:
    caps = ["IMAP4rev1", "IMAP4rev2"]
    if not_authenticated:
        if offer_starttls:
            caps.append("STARTTLS")
        if auth_allowed:
            caps += [f"AUTH={m}" for m in sasl.MECHANISMS]
        else:
            caps.append("LOGINDISABLED")
        caps.append("SASL-IR")
    caps += [
        "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT",
        "CHILDREN", "SPECIAL-USE", "CREATE-SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS",
        "CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES", "SORT", "ESORT",
        "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "QUOTA", "QUOTA=RES-STORAGE",
        f"APPENDLIMIT={max_append}", "UTF8=ACCEPT", "ACL", "RIGHTS=texk",
        "MULTIAPPEND", "BINARY", "WITHIN", "OBJECTID",
    ]  # fmt: skip
    if not compressed:
        caps.append("COMPRESS=DEFLATE")
    return tuple(caps)


@lru_cache(maxsize=64)
def _capability_line(caps: tuple[str, ...]) -> bytes:
    """``* CAPABILITY ...``: atoms only, so the same bytes whatever the session's UTF-8 mode."""
    return untagged(Atom("CAPABILITY"), *(Atom(x) for x in caps))


async def capability(s: Session, cmd: c.Capability) -> Ok:
    s.send(_capability_line(capabilities(s)))
    return Ok()


async def noop(s: Session, cmd: c.Noop | c.Check) -> Ok:
    return Ok()  # the session sends pending updates before the tagged OK


async def logout(s: Session, cmd: c.Logout) -> Ok:
    s.bye("imap.bye.logout")
    return Ok()


async def id_(s: Session, cmd: c.Id) -> Ok:
    """RFC 2971 §3.1: record the client's identity (for logs), reveal only our name."""
    s.client_id = dict(cmd.params or ())
    s.untagged(Atom("ID"), ["name", "RongMail"])
    return Ok()


async def enable(s: Session, cmd: c.Enable) -> Ok:
    newly: list[str] = []
    for cap in cmd.capabilities:
        if cap in ENABLEABLE and cap not in s.enabled:
            s.enabled.add(cap)
            newly.append(cap)
            if cap == "QRESYNC" and "CONDSTORE" not in s.enabled:
                s.enabled.add("CONDSTORE")
                newly.append("CONDSTORE")
    if s.enabled & {"CONDSTORE", "QRESYNC"}:
        s.condstore = True
    if s.utf8:
        s.parser.utf8 = True
    s.untagged(Atom("ENABLED"), *(Atom(x) for x in newly))
    return Ok()
