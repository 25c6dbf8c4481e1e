"""CAPABILITY, NOOP, LOGOUT, ID, ENABLE, CHECK (RFC 9051 §6.1, §6.3.1, §6.4.1; RFC 2971;
RFC 5161).

Invariants: ENABLE only reports what it turned on, and turning on QRESYNC also turns on
CONDSTORE (RFC 7162 §3.2.3); UTF8=ACCEPT/IMAP4rev2 switch the parser to UTF-8 mailbox names
for every following command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.protocols import sasl

from ..base import Ok, State
from ..proto import commands as c
from ..proto.response import Atom

if TYPE_CHECKING:
    from ..session import Session

#: ENABLE-able extensions (RFC 5161 §4 registry entries we implement).
ENABLEABLE = ("CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2")


def capabilities(s: Session) -> list[str]:
    opts = s.options
    caps = ["IMAP4rev1", "IMAP4rev2"]
    if s.state is State.NOT_AUTHENTICATED:
        if not s.tls_active and s.deps.tls is not None:
            caps.append("STARTTLS")
        if s.tls_active or opts.allow_plaintext_auth:
            caps += [f"AUTH={m}" for m in sasl.MECHANISMS]
        else:
            caps.append("LOGINDISABLED")
        caps.append("SASL-IR")
    caps += [
        "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT",
        "CHILDREN", "SPECIAL-USE", "CREATE-SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS",
        "CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES", "SORT", "ESORT",
        "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "QUOTA", "QUOTA=RES-STORAGE",
        f"APPENDLIMIT={opts.limits.max_append}", "UTF8=ACCEPT", "ACL", "RIGHTS=texk",
        "MULTIAPPEND", "BINARY", "WITHIN", "OBJECTID",
    ]  # fmt: skip
    if not s.compressed:
        caps.append("COMPRESS=DEFLATE")
    return caps


async def capability(s: Session, cmd: c.Capability) -> Ok:
    s.untagged(Atom("CAPABILITY"), *(Atom(x) for x in capabilities(s)))
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
