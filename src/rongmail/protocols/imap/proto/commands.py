"""Typed IMAP commands: what :class:`~.parser.CommandParser` produces.

Role: one immutable dataclass per wire command (RFC 9051 §6 and the extensions in the module
docstrings of :mod:`.grammar`). The session dispatches on the *type* through an explicit table;
nothing downstream looks at IMAP syntax again.

Invariants: mailbox names are Unicode ``str`` (modified UTF-7 already decoded unless the client
enabled ``UTF8=ACCEPT``/``IMAP4rev2``), ``INBOX`` is upper-cased in any spelling (RFC 9051
§5.1); ``uid`` says the command came in as ``UID <verb>`` so numbers are UIDs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .fetch import FetchAtt
from .search import SearchKey
from .sequence import SequenceSet


@dataclass(frozen=True, slots=True)
class Command:
    tag: str


# -- any state (RFC 9051 §6.1) ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Capability(Command):
    pass


@dataclass(frozen=True, slots=True)
class Noop(Command):
    pass


@dataclass(frozen=True, slots=True)
class Logout(Command):
    pass


@dataclass(frozen=True, slots=True)
class Id(Command):
    """RFC 2971. ``params`` is None for ``ID NIL``."""

    params: tuple[tuple[str, str | None], ...] | None = None


@dataclass(frozen=True, slots=True)
class Enable(Command):
    """RFC 5161 / RFC 9051 §6.3.1; capability names upper-cased."""

    capabilities: tuple[str, ...] = ()


# -- not authenticated (RFC 9051 §6.2) --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartTls(Command):
    pass


@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    """``initial_response``: None if absent, ``b""`` for ``=`` (RFC 4959 SASL-IR)."""

    mechanism: str = ""
    initial_response: bytes | None = None


@dataclass(frozen=True, slots=True)
class Login(Command):
    username: str = ""
    password: str = field(default="", repr=False)


# -- authenticated (RFC 9051 §6.3) ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QResyncParams:
    """RFC 7162 §3.2.5.1 ``(QRESYNC (uidvalidity modseq [known-uids [seq-match-data]]))``."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


@dataclass(frozen=True, slots=True)
class Select(Command):
    mailbox: str = ""
    readonly: bool = False  # EXAMINE
    condstore: bool = False
    qresync: QResyncParams | None = None


@dataclass(frozen=True, slots=True)
class Create(Command):
    """``special_use``: RFC 6154 §3 ``(USE (\\Sent ...))``."""

    mailbox: str = ""
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete(Command):
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class Rename(Command):
    mailbox: str = ""
    new_name: str = ""


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    mailbox: str = ""
    subscribe: bool = True  # False: UNSUBSCRIBE


@dataclass(frozen=True, slots=True)
class ListMailboxes(Command):
    """LIST (RFC 9051 §6.3.9 with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819) and LSUB.

    ``selection``/``returns`` hold upper-cased option names; ``status_items`` is set when the
    client asked ``RETURN (STATUS (...))``. ``lsub`` marks the RFC 3501 LSUB command.
    """

    reference: str = ""
    patterns: tuple[str, ...] = ()
    selection: frozenset[str] = frozenset()
    returns: frozenset[str] = frozenset()
    status_items: tuple[str, ...] = ()
    lsub: bool = False
    extended: bool = False  # selection or return options or several patterns were given


@dataclass(frozen=True, slots=True)
class Namespace(Command):
    pass


@dataclass(frozen=True, slots=True)
class Status(Command):
    mailbox: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AppendMessage:
    flags: tuple[str, ...] = ()
    internal_date: datetime | None = None
    data: bytes = field(default=b"", repr=False)
    binary: bool = False  # sent as literal8 (RFC 3516 §4.4)
    utf8: bool = False  # RFC 6855 §4 ``UTF8 (literal8)``


@dataclass(frozen=True, slots=True)
class Append(Command):
    """APPEND; several messages with MULTIAPPEND (RFC 3502)."""

    mailbox: str = ""
    messages: tuple[AppendMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class Idle(Command):
    pass


@dataclass(frozen=True, slots=True)
class Compress(Command):
    """RFC 4978; ``mechanism`` upper-cased (only DEFLATE is defined)."""

    mechanism: str = ""


@dataclass(frozen=True, slots=True)
class GetAcl(Command):
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class SetAcl(Command):
    """RFC 4314 §3.1; ``rights`` may start with ``+`` or ``-``."""

    mailbox: str = ""
    identifier: str = ""
    rights: str = ""


@dataclass(frozen=True, slots=True)
class DeleteAcl(Command):
    mailbox: str = ""
    identifier: str = ""


@dataclass(frozen=True, slots=True)
class ListRights(Command):
    mailbox: str = ""
    identifier: str = ""


@dataclass(frozen=True, slots=True)
class MyRights(Command):
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class GetQuota(Command):
    root: str = ""


@dataclass(frozen=True, slots=True)
class GetQuotaRoot(Command):
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class SetQuota(Command):
    """RFC 9208 §4.3; resource names upper-cased."""

    root: str = ""
    limits: tuple[tuple[str, int], ...] = ()


# -- selected (RFC 9051 §6.4) -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Check(Command):
    pass


@dataclass(frozen=True, slots=True)
class Close(Command):
    pass


@dataclass(frozen=True, slots=True)
class Unselect(Command):
    pass


@dataclass(frozen=True, slots=True)
class Expunge(Command):
    """EXPUNGE, or UIDPLUS ``UID EXPUNGE set`` (RFC 4315 §2.1) when ``uids`` is set."""

    uids: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class Search(Command):
    """SEARCH. ``returns`` is None for plain SEARCH (untagged ``* SEARCH``); a tuple for
    ``RETURN (...)`` (RFC 4731/9051 ESEARCH; ``()`` means ``ALL``)."""

    criteria: SearchKey | None = None
    uid: bool = False
    charset: str | None = None
    returns: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Fetch(Command):
    sequence: SequenceSet = SequenceSet()
    attributes: tuple[FetchAtt, ...] = ()
    uid: bool = False
    changed_since: int | None = None  # RFC 7162 §3.1.4.1
    vanished: bool = False  # RFC 7162 §3.2.6


@dataclass(frozen=True, slots=True)
class Store(Command):
    sequence: SequenceSet = SequenceSet()
    mode: Literal["set", "add", "remove"] = "set"
    flags: tuple[str, ...] = ()
    silent: bool = False
    uid: bool = False
    unchanged_since: int | None = None  # RFC 7162 §3.1.3


@dataclass(frozen=True, slots=True)
class Copy(Command):
    sequence: SequenceSet = SequenceSet()
    mailbox: str = ""
    uid: bool = False
    move: bool = False  # RFC 6851 MOVE


@dataclass(frozen=True, slots=True)
class SortKey:
    key: str  # ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Sort(Command):
    """RFC 5256 §3 SORT (with RFC 5267 ESORT ``RETURN``)."""

    keys: tuple[SortKey, ...] = ()
    charset: str = "UTF-8"
    criteria: SearchKey | None = None
    uid: bool = False
    returns: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Thread(Command):
    """RFC 5256 §3 THREAD; ``algorithm`` is REFERENCES or ORDEREDSUBJECT."""

    algorithm: str = ""
    charset: str = "UTF-8"
    criteria: SearchKey | None = None
    uid: bool = False
