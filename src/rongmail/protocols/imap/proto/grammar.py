"""Recursive-descent grammar for one complete IMAP command (RFC 9051 §9, RFC 3501 §9).

Role: ``parse_command(bytes) -> Command`` for a command whose literals the framer already
collected. One small function per verb, reached through the explicit table :data:`VERBS`.

Extensions covered: RFC 2971 ID, RFC 3502 MULTIAPPEND, RFC 3516 BINARY (``~{n}``), RFC 4314 ACL,
RFC 4315 UIDPLUS, RFC 4731 ESEARCH, RFC 4959 SASL-IR, RFC 4978 COMPRESS, RFC 5032 WITHIN,
RFC 5161 ENABLE, RFC 5182 SEARCHRES, RFC 5256 SORT/THREAD, RFC 5258 LIST-EXTENDED, RFC 5267
ESORT, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE/CREATE-SPECIAL-USE, RFC 6851 MOVE, RFC 6855
UTF8=ACCEPT, RFC 7162 CONDSTORE/QRESYNC, RFC 7888 LITERAL+, RFC 8474 OBJECTID, RFC 9208 QUOTA.

Invariants: a rule either returns a command having consumed everything up to the final CRLF or
raises :class:`~.cursor.ParseError`; state is never changed here (the session decides whether
a verb is allowed in its current state).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from . import commands as c
from . import mutf7
from .cursor import Cursor, ParseError
from .fetch import parse_fetch_atts
from .search import charset_codec, parse_search_keys

__all__ = ["UID_VERBS", "VERBS", "parse_command"]

STATUS_ITEMS = frozenset(
    {
        "MESSAGES",
        "UIDNEXT",
        "UIDVALIDITY",
        "UNSEEN",
        "DELETED",  # RFC 9051 §6.3.11
        "SIZE",  # RFC 9051 §6.3.11
        "RECENT",  # RFC 3501 only
        "HIGHESTMODSEQ",  # RFC 7162 §3.1.9
        "APPENDLIMIT",  # RFC 7889 §3
        "MAILBOXID",  # RFC 8474 §4
    }
)
SEARCH_RETURN = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE"})
SORT_KEYS = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)
THREAD_ALGORITHMS = frozenset({"REFERENCES", "ORDEREDSUBJECT"})
LIST_SELECT = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
LIST_RETURN = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS", "MYRIGHTS"})
MAX_ID_PAIRS = 30  # RFC 2971 §3.3
MAX_LIST_PATTERNS = 64


@dataclass(slots=True)
class _Ctx:
    cur: Cursor
    tag: str
    uid: bool
    utf8: bool

    def mailbox(self) -> str:
        """``mailbox = "INBOX" / astring``, decoded to Unicode (RFC 9051 §5.1, §5.1.3)."""
        return decode_mailbox(self.cur.astring("mailbox"), utf8=self.utf8)

    def pattern(self) -> str:
        return decode_mailbox(self.cur.list_mailbox(), utf8=self.utf8, inbox=False)

    def text(self, raw: bytes, what: str) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(what) from None


def decode_mailbox(raw: bytes, *, utf8: bool, inbox: bool = True) -> str:
    """Wire bytes to a Unicode mailbox name.

    With UTF8=ACCEPT/IMAP4rev2 the bytes are UTF-8 and ``&`` is literal (RFC 6855 §3). Otherwise
    ASCII names are modified UTF-7; 8-bit names (sent by some legacy clients) are taken as
    UTF-8. ``INBOX`` is case-insensitive (RFC 9051 §5.1).
    """
    try:
        if utf8 or not raw.isascii():
            name = raw.decode("utf-8")
        else:
            name = mutf7.decode(raw)
    except (UnicodeDecodeError, mutf7.MUtf7Error):
        raise ParseError("mailbox") from None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise ParseError("mailbox")
    if inbox and name.upper() == "INBOX":
        return "INBOX"
    return name


def _paren_words(cur: Cursor, what: str, *, allow_empty: bool = True) -> list[str]:
    cur.expect(b"(", what)
    words: list[str] = []
    if cur.accept(b")"):
        if not allow_empty:
            raise ParseError(what)
        return words
    while True:
        words.append(cur.keyword(what))
        if len(words) > 64:
            raise ParseError(what)
        if cur.accept(b")"):
            return words
        cur.sp()


# -- any state --------------------------------------------------------------------------------
def _no_args(cls: type[c.Command]) -> Callable[[_Ctx], c.Command]:
    def rule(ctx: _Ctx) -> c.Command:
        return cls(ctx.tag)

    return rule


def _id(ctx: _Ctx) -> c.Id:
    cur = ctx.cur
    cur.sp()
    if cur.accept_word("NIL"):
        return c.Id(ctx.tag, None)
    cur.expect(b"(", "id-params-list")
    pairs: list[tuple[str, str | None]] = []
    if not cur.accept(b")"):
        while True:
            key = cur.string().decode("utf-8", "replace")
            cur.sp()
            value = cur.nstring()
            pairs.append(
                (key[:30], None if value is None else value.decode("utf-8", "replace")[:1024])
            )
            if len(pairs) > MAX_ID_PAIRS:
                raise ParseError("id-params-list")
            if cur.accept(b")"):
                break
            cur.sp()
    return c.Id(ctx.tag, tuple(pairs))


def _enable(ctx: _Ctx) -> c.Enable:
    caps: list[str] = []
    while ctx.cur.accept_sp():
        caps.append(ctx.cur.keyword("capability"))
        if len(caps) > 64:
            raise ParseError("capability")
    if not caps:
        raise ParseError("capability")
    return c.Enable(ctx.tag, tuple(caps))


# -- not authenticated ------------------------------------------------------------------------
def _authenticate(ctx: _Ctx) -> c.Authenticate:
    cur = ctx.cur
    cur.sp()
    mech = cur.keyword("auth-type")
    initial: bytes | None = None
    if cur.accept_sp():
        if cur.accept(b"="):
            initial = b""
        else:
            start = cur.pos
            while cur.peek() not in (-1, 0x0D):
                cur.pos += 1
            try:
                initial = base64.b64decode(cur.data[start : cur.pos], validate=True)
            except (binascii.Error, ValueError):
                raise ParseError("base64") from None
    return c.Authenticate(ctx.tag, mech, initial)


def _login(ctx: _Ctx) -> c.Login:
    cur = ctx.cur
    cur.sp()
    user = ctx.text(cur.astring("userid"), "userid")
    cur.sp()
    password = ctx.text(cur.astring("password"), "password")
    return c.Login(ctx.tag, user, password)


# -- authenticated ----------------------------------------------------------------------------
def _select(readonly: bool) -> Callable[[_Ctx], c.Select]:
    def rule(ctx: _Ctx) -> c.Select:
        cur = ctx.cur
        cur.sp()
        mailbox = ctx.mailbox()
        condstore = False
        qresync: c.QResyncParams | None = None
        if cur.accept_sp():
            cur.expect(b"(", "select-params")
            while True:
                word = cur.keyword("select-param")
                if word == "CONDSTORE":
                    condstore = True
                elif word == "QRESYNC" and qresync is None:
                    cur.sp()
                    qresync = _qresync(cur)
                else:
                    raise ParseError("select-param")
                if cur.accept(b")"):
                    break
                cur.sp()
        return c.Select(ctx.tag, mailbox, readonly, condstore, qresync)

    return rule


def _qresync(cur: Cursor) -> c.QResyncParams:
    """RFC 7162 §3.2.5.1: ``"(" uidvalidity SP mod-sequence-value [SP known-uids]
    [SP seq-match-data] ")"``."""
    cur.expect(b"(", "qresync-param")
    uidvalidity = cur.number(nonzero=True, what="uidvalidity")
    cur.sp()
    modseq = cur.number(bits64=True, what="mod-sequence-value")
    known = None
    match = None
    if cur.accept_sp():
        if cur.peek() != ord("("):
            known = cur.sequence_set()
            if known.saved:
                raise ParseError("known-uids")
            if cur.accept_sp():
                match = _seq_match(cur)
        else:
            match = _seq_match(cur)
    cur.expect(b")", "qresync-param")
    return c.QResyncParams(uidvalidity, modseq, known, match)


def _seq_match(cur: Cursor) -> tuple[c.SequenceSet, c.SequenceSet]:
    cur.expect(b"(", "seq-match-data")
    seqs = cur.sequence_set()
    cur.sp()
    uids = cur.sequence_set()
    cur.expect(b")", "seq-match-data")
    return seqs, uids


def _create(ctx: _Ctx) -> c.Create:
    cur = ctx.cur
    cur.sp()
    mailbox = ctx.mailbox()
    uses: tuple[str, ...] = ()
    if cur.accept_sp():
        cur.expect(b"(", "create-param")
        if not cur.accept_word("USE"):
            raise ParseError("create-param")
        cur.sp()
        uses = cur.flag_list()
        cur.expect(b")", "create-param")
    return c.Create(ctx.tag, mailbox, uses)


def _one_mailbox(
    cls: type[c.Delete] | type[c.GetAcl] | type[c.MyRights] | type[c.GetQuotaRoot],
) -> Callable[[_Ctx], c.Command]:
    def rule(ctx: _Ctx) -> c.Command:
        ctx.cur.sp()
        return cls(ctx.tag, ctx.mailbox())

    return rule


def _subscribe(subscribe: bool) -> Callable[[_Ctx], c.Subscribe]:
    def rule(ctx: _Ctx) -> c.Subscribe:
        ctx.cur.sp()
        return c.Subscribe(ctx.tag, ctx.mailbox(), subscribe)

    return rule


def _rename(ctx: _Ctx) -> c.Rename:
    ctx.cur.sp()
    old = ctx.mailbox()
    ctx.cur.sp()
    return c.Rename(ctx.tag, old, ctx.mailbox())


def _list(ctx: _Ctx) -> c.ListMailboxes:
    """RFC 5258 §6 ``list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
    [SP list-return-opts]``."""
    cur = ctx.cur
    cur.sp()
    selection: set[str] = set()
    extended = False
    if cur.peek() == ord("("):
        extended = True
        selection = set(_paren_words(cur, "list-select-opt"))
        if not selection <= LIST_SELECT or selection == {"RECURSIVEMATCH"}:
            raise ParseError("list-select-opt")  # RFC 5258 §3: BAD for unknown/lone RECURSIVEMATCH
        cur.sp()
    reference = decode_mailbox(cur.astring("mailbox"), utf8=ctx.utf8, inbox=False)
    cur.sp()
    patterns: list[str] = []
    if cur.accept(b"("):
        extended = True
        while True:
            patterns.append(ctx.pattern())
            if len(patterns) > MAX_LIST_PATTERNS:
                raise ParseError("patterns")
            if cur.accept(b")"):
                break
            cur.sp()
    else:
        patterns.append(ctx.pattern())
    returns: set[str] = set()
    status_items: tuple[str, ...] = ()
    if cur.accept_sp():
        extended = True
        if not cur.accept_word("RETURN"):
            raise ParseError("list-return-opts")
        cur.sp()
        cur.expect(b"(", "list-return-opts")
        if not cur.accept(b")"):
            while True:
                word = cur.keyword("return-option")
                if word not in LIST_RETURN:
                    raise ParseError("return-option")
                returns.add(word)
                if word == "STATUS":  # RFC 5819 §2
                    cur.sp()
                    status_items = _status_items(cur)
                if cur.accept(b")"):
                    break
                cur.sp()
    return c.ListMailboxes(
        ctx.tag,
        reference,
        tuple(patterns),
        frozenset(selection),
        frozenset(returns),
        status_items,
        extended=extended,
    )


def _lsub(ctx: _Ctx) -> c.ListMailboxes:
    cur = ctx.cur
    cur.sp()
    reference = decode_mailbox(cur.astring("mailbox"), utf8=ctx.utf8, inbox=False)
    cur.sp()
    return c.ListMailboxes(ctx.tag, reference, (ctx.pattern(),), lsub=True)


def _status_items(cur: Cursor) -> tuple[str, ...]:
    items = _paren_words(cur, "status-att", allow_empty=False)
    if any(item not in STATUS_ITEMS for item in items):
        raise ParseError("status-att")
    return tuple(dict.fromkeys(items))


def _status(ctx: _Ctx) -> c.Status:
    ctx.cur.sp()
    mailbox = ctx.mailbox()
    ctx.cur.sp()
    return c.Status(ctx.tag, mailbox, _status_items(ctx.cur))


def _append(ctx: _Ctx) -> c.Append:
    """RFC 9051 §6.3.12 + RFC 3502 MULTIAPPEND + RFC 3516 ``literal8`` + RFC 6855 §4 UTF8."""
    cur = ctx.cur
    cur.sp()
    mailbox = ctx.mailbox()
    messages: list[c.AppendMessage] = []
    while cur.accept_sp():
        flags: tuple[str, ...] = ()
        date = None
        if cur.peek() == ord("("):
            flags = cur.flag_list()
            cur.sp()
        if cur.peek() == ord('"'):
            date = cur.date_time()
            cur.sp()
        utf8 = False
        if cur.accept_word("UTF8"):
            utf8 = True
            cur.sp()
            cur.expect(b"(", "append-data")
            data, binary = cur.literal(allow8=True)
            cur.expect(b")", "append-data")
        else:
            data, binary = cur.literal(allow8=True)
        messages.append(c.AppendMessage(flags, date, data, binary, utf8))
    if not messages:
        raise ParseError("append-message")
    return c.Append(ctx.tag, mailbox, tuple(messages))


def _compress(ctx: _Ctx) -> c.Compress:
    ctx.cur.sp()
    return c.Compress(ctx.tag, ctx.cur.keyword("algorithm"))


def _identifier(ctx: _Ctx) -> str:
    ctx.cur.sp()
    return ctx.text(ctx.cur.astring("identifier"), "identifier")


def _setacl(ctx: _Ctx) -> c.SetAcl:
    ctx.cur.sp()
    mailbox = ctx.mailbox()
    ident = _identifier(ctx)
    ctx.cur.sp()
    rights = ctx.text(ctx.cur.astring("mod-rights"), "mod-rights")
    return c.SetAcl(ctx.tag, mailbox, ident, rights)


def _mailbox_ident(cls: type[c.DeleteAcl] | type[c.ListRights]) -> Callable[[_Ctx], c.Command]:
    def rule(ctx: _Ctx) -> c.Command:
        ctx.cur.sp()
        mailbox = ctx.mailbox()
        return cls(ctx.tag, mailbox, _identifier(ctx))

    return rule


def _getquota(ctx: _Ctx) -> c.GetQuota:
    ctx.cur.sp()
    return c.GetQuota(ctx.tag, ctx.text(ctx.cur.astring("quota-root"), "quota-root"))


def _setquota(ctx: _Ctx) -> c.SetQuota:
    cur = ctx.cur
    cur.sp()
    root = ctx.text(cur.astring("quota-root"), "quota-root")
    cur.sp()
    cur.expect(b"(", "setquota-list")
    limits: list[tuple[str, int]] = []
    if not cur.accept(b")"):
        while True:
            name = cur.keyword("resource-name")
            cur.sp()
            limits.append((name, cur.number(bits64=True, what="resource-limit")))
            if len(limits) > 16:
                raise ParseError("setquota-list")
            if cur.accept(b")"):
                break
            cur.sp()
    return c.SetQuota(ctx.tag, root, tuple(limits))


# -- selected ---------------------------------------------------------------------------------
def _expunge(ctx: _Ctx) -> c.Expunge:
    if ctx.uid:  # RFC 4315 §2.1
        ctx.cur.sp()
        return c.Expunge(ctx.tag, ctx.cur.sequence_set())
    return c.Expunge(ctx.tag)


def _search_returns(cur: Cursor) -> tuple[str, ...] | None:
    """``[SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"]``."""
    if not cur.accept_word("RETURN"):
        return None
    cur.sp()
    opts = _paren_words(cur, "search-return-opt")
    if any(o not in SEARCH_RETURN for o in opts):
        raise ParseError("search-return-opt")
    cur.sp()
    return tuple(dict.fromkeys(opts))


def _search(ctx: _Ctx) -> c.Search:
    cur = ctx.cur
    cur.sp()
    returns = _search_returns(cur)
    charset = None
    if cur.accept_word("CHARSET"):
        cur.sp()
        charset = cur.astring("charset").decode("ascii", "replace").upper()
        charset_codec(charset)
        cur.sp()
    criteria = parse_search_keys(cur, charset or "UTF-8")
    return c.Search(ctx.tag, criteria, ctx.uid, charset, returns)


def _fetch(ctx: _Ctx) -> c.Fetch:
    cur = ctx.cur
    cur.sp()
    seq = cur.sequence_set()
    cur.sp()
    atts = parse_fetch_atts(cur)
    changed_since = None
    vanished = False
    if cur.accept_sp():
        cur.expect(b"(", "fetch-modifiers")
        while True:
            word = cur.keyword("fetch-modifier")
            if word == "CHANGEDSINCE" and changed_since is None:
                cur.sp()
                changed_since = cur.number(bits64=True, what="mod-sequence-valzer")
            elif word == "VANISHED" and not vanished:
                vanished = True
            else:
                raise ParseError("fetch-modifier")
            if cur.accept(b")"):
                break
            cur.sp()
        # RFC 7162 §3.2.6: VANISHED only in UID FETCH and together with CHANGEDSINCE.
        if vanished and (not ctx.uid or changed_since is None):
            raise ParseError("VANISHED")
    return c.Fetch(ctx.tag, seq, atts, ctx.uid, changed_since, vanished)


def _store(ctx: _Ctx) -> c.Store:
    cur = ctx.cur
    cur.sp()
    seq = cur.sequence_set()
    cur.sp()
    unchanged = None
    if cur.accept(b"("):
        if not cur.accept_word("UNCHANGEDSINCE"):
            raise ParseError("store-modifier")
        cur.sp()
        unchanged = cur.number(bits64=True, what="mod-sequence-valzer")
        cur.expect(b")", "store-modifier")
        cur.sp()
    mode: str = "set"
    if cur.accept(b"+"):
        mode = "add"
    elif cur.accept(b"-"):
        mode = "remove"
    word = cur.keyword("store-att-flags")
    if word not in ("FLAGS", "FLAGS.SILENT"):
        raise ParseError("store-att-flags")
    cur.sp()
    if cur.peek() == ord("("):
        flags = cur.flag_list()
    else:
        items = [cur.flag()]
        while cur.accept_sp():
            items.append(cur.flag())
            if len(items) > 256:
                raise ParseError("flag")
        flags = tuple(items)
    if "\\*" in flags:
        raise ParseError("flag")
    return c.Store(ctx.tag, seq, mode, flags, word == "FLAGS.SILENT", ctx.uid, unchanged)  # type: ignore[arg-type]


def _copy(move: bool) -> Callable[[_Ctx], c.Copy]:
    def rule(ctx: _Ctx) -> c.Copy:
        ctx.cur.sp()
        seq = ctx.cur.sequence_set()
        ctx.cur.sp()
        return c.Copy(ctx.tag, seq, ctx.mailbox(), ctx.uid, move)

    return rule


def _charset(cur: Cursor) -> str:
    name = cur.astring("charset").decode("ascii", "replace").upper()
    charset_codec(name)
    return name


def _sort(ctx: _Ctx) -> c.Sort:
    """RFC 5256 §5 ``sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria``."""
    cur = ctx.cur
    cur.sp()
    returns = _search_returns(cur)
    cur.expect(b"(", "sort-criteria")
    keys: list[c.SortKey] = []
    while True:
        reverse = cur.accept_word("REVERSE")
        if reverse:
            cur.sp()
        key = cur.keyword("sort-key")
        if key not in SORT_KEYS:
            raise ParseError("sort-key")
        keys.append(c.SortKey(key, reverse))
        if len(keys) > 16:
            raise ParseError("sort-criteria")
        if cur.accept(b")"):
            break
        cur.sp()
    cur.sp()
    charset = _charset(cur)
    cur.sp()
    criteria = parse_search_keys(cur, charset)
    return c.Sort(ctx.tag, tuple(keys), charset, criteria, ctx.uid, returns)


def _thread(ctx: _Ctx) -> c.Thread:
    cur = ctx.cur
    cur.sp()
    algorithm = cur.keyword("thread-alg")
    if algorithm not in THREAD_ALGORITHMS:
        raise ParseError("thread-alg")
    cur.sp()
    charset = _charset(cur)
    cur.sp()
    return c.Thread(ctx.tag, algorithm, charset, parse_search_keys(cur, charset), ctx.uid)


#: Verb -> grammar rule. The session's own dispatch table maps command *types* to handlers.
VERBS: dict[str, Callable[[_Ctx], c.Command]] = {
    "CAPABILITY": _no_args(c.Capability),
    "NOOP": _no_args(c.Noop),
    "LOGOUT": _no_args(c.Logout),
    "ID": _id,
    "ENABLE": _enable,
    "STARTTLS": _no_args(c.StartTls),
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "SELECT": _select(False),
    "EXAMINE": _select(True),
    "CREATE": _create,
    "DELETE": _one_mailbox(c.Delete),
    "RENAME": _rename,
    "SUBSCRIBE": _subscribe(True),
    "UNSUBSCRIBE": _subscribe(False),
    "LIST": _list,
    "LSUB": _lsub,
    "NAMESPACE": _no_args(c.Namespace),
    "STATUS": _status,
    "APPEND": _append,
    "IDLE": _no_args(c.Idle),
    "COMPRESS": _compress,
    "GETACL": _one_mailbox(c.GetAcl),
    "SETACL": _setacl,
    "DELETEACL": _mailbox_ident(c.DeleteAcl),
    "LISTRIGHTS": _mailbox_ident(c.ListRights),
    "MYRIGHTS": _one_mailbox(c.MyRights),
    "GETQUOTA": _getquota,
    "GETQUOTAROOT": _one_mailbox(c.GetQuotaRoot),
    "SETQUOTA": _setquota,
    "CHECK": _no_args(c.Check),
    "CLOSE": _no_args(c.Close),
    "UNSELECT": _no_args(c.Unselect),
    "EXPUNGE": _expunge,
    "SEARCH": _search,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy(False),
    "MOVE": _copy(True),
    "SORT": _sort,
    "THREAD": _thread,
}
#: Verbs allowed after ``UID`` (RFC 9051 §6.4.9, RFC 4315, RFC 5256, RFC 6851).
UID_VERBS = frozenset({"FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "SORT", "THREAD"})


def parse_command(data: bytes, *, utf8: bool = False) -> c.Command:
    """Parse one whole command (ending in CRLF). ``utf8``: mailbox names are UTF-8."""
    cur = Cursor(data)
    tag = cur.tag()
    cur.sp()
    verb = cur.keyword("command")
    uid = False
    if verb == "UID":
        cur.sp()
        verb = cur.keyword("command")
        if verb not in UID_VERBS:
            raise ParseError("uid command", key="imap.bad.unknown_command")
        uid = True
    rule = VERBS.get(verb)
    if rule is None:
        raise ParseError("command", key="imap.bad.unknown_command")
    command = rule(_Ctx(cur, tag, uid, utf8))
    cur.eol()
    return command
