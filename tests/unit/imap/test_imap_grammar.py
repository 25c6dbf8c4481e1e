"""The command grammar, with examples from RFC 9051 §6 and the extension RFCs."""

from datetime import UTC, datetime, timedelta, timezone

from rongmail.protocols.imap.proto import commands as c
from rongmail.protocols.imap.proto import search as s
from rongmail.protocols.imap.proto.events import Rejected
from rongmail.protocols.imap.proto.fetch import FetchAtt, Section
from rongmail.protocols.imap.proto.parser import CommandParser
from rongmail.protocols.imap.proto.sequence import STAR, SequenceSet


def one(line: bytes | str, *, utf8: bool = False) -> object:
    data = line.encode() if isinstance(line, str) else line
    events = CommandParser(utf8=utf8).feed(data + b"\r\n")
    assert len(events) == 1, events
    return events[0]


def bad(line: str) -> Rejected:
    event = one(line)
    assert isinstance(event, Rejected), event
    return event


# -- any state, not authenticated ------------------------------------------------------------
def test_simple_commands() -> None:
    assert one("abcd CAPABILITY") == c.Capability("abcd")
    assert one("a002 noop") == c.Noop("a002")
    assert one("A023 LOGOUT") == c.Logout("A023")
    assert one("a002 STARTTLS") == c.StartTls("a002")


def test_login_quoted_and_atom() -> None:
    assert one('a001 LOGIN SMITH SESAME') == c.Login("a001", "SMITH", "SESAME")
    cmd = one('a001 LOGIN "fred@example.com" "pa\\"ss\\\\word"')
    assert cmd == c.Login("a001", "fred@example.com", 'pa"ss\\word')


def test_authenticate_sasl_ir() -> None:
    # RFC 4959 §3
    cmd = one("a01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=")
    assert cmd == c.Authenticate("a01", "PLAIN", b"test\x00test\x00test")
    assert one("a01 AUTHENTICATE PLAIN =") == c.Authenticate("a01", "PLAIN", b"")
    assert one("A001 AUTHENTICATE GSSAPI") == c.Authenticate("A001", "GSSAPI", None)
    assert bad("a01 AUTHENTICATE PLAIN !!!").tag == "a01"


def test_id_and_enable() -> None:
    # RFC 2971 §3.1
    cmd = one('a023 ID ("name" "sodr" "version" "19.34" "vendor" NIL)')
    assert cmd == c.Id("a023", (("name", "sodr"), ("version", "19.34"), ("vendor", None)))
    assert one("a023 ID NIL") == c.Id("a023", None)
    assert one("t2 ENABLE CONDSTORE qresync") == c.Enable("t2", ("CONDSTORE", "QRESYNC"))
    assert bad("t2 ENABLE").key == "imap.bad.syntax"


# -- authenticated ---------------------------------------------------------------------------
def test_select_examine() -> None:
    assert one("A142 SELECT INBOX") == c.Select("A142", "INBOX")
    assert one("A142 select inbox") == c.Select("A142", "INBOX")
    assert one("A932 EXAMINE blurdybloop") == c.Select("A932", "blurdybloop", readonly=True)
    assert one("a SELECT INBOX (CONDSTORE)") == c.Select("a", "INBOX", condstore=True)


def test_select_qresync_rfc7162_example() -> None:
    # RFC 7162 §3.2.5.2
    cmd = one(
        "A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"
    )
    assert isinstance(cmd, c.Select)
    assert cmd.qresync == c.QResyncParams(
        67890007, 20050715194045000, SequenceSet(((41, 41), (43, 211), (214, 541)))
    )
    cmd = one("B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976:29979)))")
    assert isinstance(cmd, c.Select) and cmd.qresync is not None
    assert cmd.qresync.seq_match is not None
    assert str(cmd.qresync.seq_match[1]) == "15000,22500,27000,29970,29973,29976:29979"
    assert bad("a SELECT INBOX (FOO)").detail == "select-param"


def test_mailbox_names_modified_utf7_and_utf8() -> None:
    assert one("a CREATE &U9F5aA-") == c.Create("a", "发票")
    assert one('a CREATE "&U9F5aA-/2024"') == c.Create("a", "发票/2024")
    # With UTF8=ACCEPT the bytes are UTF-8 and '&' is an ordinary character (RFC 6855 §3).
    assert one('a CREATE "发票&Co"', utf8=True) == c.Create("a", "发票&Co")
    # Legacy clients that send raw UTF-8 without enabling it are accepted.
    assert one('a CREATE "发票"') == c.Create("a", "发票")
    assert bad("a CREATE &Jjo!").detail == "mailbox"


def test_create_special_use() -> None:
    # RFC 6154 §5.2
    cmd = one("t1 CREATE MySpecial (USE (\\Drafts \\Sent))")
    assert cmd == c.Create("t1", "MySpecial", ("\\Drafts", "\\Sent"))


def test_rename_delete_subscribe() -> None:
    assert one("A683 RENAME blurdybloop sarasoop") == c.Rename("A683", "blurdybloop", "sarasoop")
    assert one("A683 DELETE blurdybloop") == c.Delete("A683", "blurdybloop")
    assert one("A002 SUBSCRIBE #news.comp.mail.mime") == c.Subscribe("A002", "#news.comp.mail.mime")
    assert one("A002 UNSUBSCRIBE x") == c.Subscribe("A002", "x", subscribe=False)


def test_list_basic_and_extended() -> None:
    assert one('A682 LIST "" *') == c.ListMailboxes("A682", "", ("*",))
    assert one("A682 LIST ~/Mail/ %") == c.ListMailboxes("A682", "~/Mail/", ("%",))
    # RFC 5258 §5 example 5
    cmd = one('A04 LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (CHILDREN)')
    assert isinstance(cmd, c.ListMailboxes)
    assert cmd.selection == {"SUBSCRIBED", "RECURSIVEMATCH"}
    assert cmd.returns == {"CHILDREN"} and cmd.extended
    # RFC 5258 §5 example 9: several patterns
    cmd = one('A01 LIST "" ("foo" "foo/*")')
    assert isinstance(cmd, c.ListMailboxes) and cmd.patterns == ("foo", "foo/*")
    # RFC 5819 §5 LIST-STATUS
    cmd = one('A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))')
    assert isinstance(cmd, c.ListMailboxes) and cmd.status_items == ("MESSAGES", "UNSEEN")
    # RFC 6154 §5.1
    cmd = one('t1 LIST (SPECIAL-USE) "" "*"')
    assert isinstance(cmd, c.ListMailboxes) and cmd.selection == {"SPECIAL-USE"}
    # RFC 5258 §3: RECURSIVEMATCH alone and unknown options are BAD.
    assert bad('A LIST (RECURSIVEMATCH) "" %').detail == "list-select-opt"
    assert bad('A LIST "" % RETURN (FOO)').detail == "return-option"


def test_lsub_status_namespace() -> None:
    assert one('A002 LSUB "#news." "comp.mail.*"') == c.ListMailboxes(
        "A002", "#news.", ("comp.mail.*",), lsub=True
    )
    assert one("A042 STATUS blurdybloop (UIDNEXT MESSAGES)") == c.Status(
        "A042", "blurdybloop", ("UIDNEXT", "MESSAGES")
    )
    assert bad("A042 STATUS x (FOO)").detail == "status-att"
    assert one("A001 NAMESPACE") == c.Namespace("A001")


def test_append_rfc9051_example() -> None:
    msg = (
        b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred <fred@example.com>\r\n"
        b"Subject: afternoon meeting\r\n\r\nHello Joe\r\n"
    )
    p = CommandParser()
    head = b'A003 APPEND saved-messages (\\Seen) "07-Feb-1994 21:52:25 -0800" {%d}\r\n' % len(msg)
    assert [type(e).__name__ for e in p.feed(head)] == ["ContinuationRequest"]
    [cmd] = p.feed(msg + b"\r\n")
    assert isinstance(cmd, c.Append)
    [m] = cmd.messages
    assert m.flags == ("\\Seen",) and m.data == msg
    assert m.internal_date == datetime(1994, 2, 7, 21, 52, 25, tzinfo=timezone(-timedelta(hours=8)))


def test_multiappend_literal_plus_and_binary() -> None:
    # RFC 3502 + RFC 7888 {n+} + RFC 3516 ~{n}
    data = b'A1 APPEND INBOX {3+}\r\nabc (\\Flagged) ~{3+}\r\na\x00c UTF8 (~{2+}\r\nxy)\r\n'
    [cmd] = CommandParser().feed(data)
    assert isinstance(cmd, c.Append)
    assert [m.data for m in cmd.messages] == [b"abc", b"a\x00c", b"xy"]
    assert [m.binary for m in cmd.messages] == [False, True, True]
    assert cmd.messages[2].utf8 and cmd.messages[1].flags == ("\\Flagged",)


def test_acl_quota_compress_idle() -> None:
    # RFC 4314 §3
    assert one("A001 GETACL INBOX") == c.GetAcl("A001", "INBOX")
    assert one("A002 SETACL INBOX/Drafts John lrQ") == c.SetAcl("A002", "INBOX/Drafts", "John", "lrQ")
    assert one("A035 SETACL INBOX/Drafts John +w") == c.SetAcl("A035", "INBOX/Drafts", "John", "+w")
    assert one("A003 DELETEACL INBOX Fred") == c.DeleteAcl("A003", "INBOX", "Fred")
    assert one("a LISTRIGHTS ~/Mail/saved smith") == c.ListRights("a", "~/Mail/saved", "smith")
    assert one("A003 MYRIGHTS INBOX") == c.MyRights("A003", "INBOX")
    # RFC 9208 §4
    assert one('G0001 GETQUOTA "!partition/sda4"') == c.GetQuota("G0001", "!partition/sda4")
    assert one("G0002 GETQUOTAROOT INBOX") == c.GetQuotaRoot("G0002", "INBOX")
    assert one('S0000 SETQUOTA "#user/alice" (STORAGE 510)') == c.SetQuota(
        "S0000", "#user/alice", (("STORAGE", 510),)
    )
    assert one("t1 COMPRESS DEFLATE") == c.Compress("t1", "DEFLATE")
    assert one("A002 IDLE") == c.Idle("A002")


# -- selected --------------------------------------------------------------------------------
def test_fetch_rfc9051_examples() -> None:
    cmd = one("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")
    assert isinstance(cmd, c.Fetch)
    assert cmd.sequence == SequenceSet(((2, 4),))
    assert cmd.attributes == (
        FetchAtt("FLAGS"),
        FetchAtt("BODY", Section((), "HEADER.FIELDS", ("DATE", "FROM"))),
    )
    cmd = one("A999 UID FETCH 4827313:4828442 FLAGS")
    assert isinstance(cmd, c.Fetch) and cmd.uid and cmd.attributes == (FetchAtt("FLAGS"),)
    cmd = one("a FETCH 1 ALL")
    assert isinstance(cmd, c.Fetch) and len(cmd.attributes) == 4


def test_fetch_sections_and_partials() -> None:
    cmd = one("a FETCH 1:* (BODY.PEEK[1.2.MIME] BODY[]<0.2048> BINARY.PEEK[1]<5.10> BINARY.SIZE[2] RFC822.SIZE MODSEQ)")
    assert isinstance(cmd, c.Fetch)
    att = cmd.attributes
    assert att[0] == FetchAtt("BODY", Section((1, 2), "MIME"), None, peek=True)
    assert att[0].response_name() == "BODY[1.2.MIME]" and not att[0].sets_seen
    assert att[1].response_name() == "BODY[]<0>" and att[1].sets_seen
    assert att[2] == FetchAtt("BINARY", Section((1,)), (5, 10), peek=True)
    assert att[3].response_name() == "BINARY.SIZE[2]"
    assert cmd.sequence.ranges == ((1, STAR),)
    cmd = one("a FETCH 1 (BODY[1] BODY.PEEK[2.1.TEXT] BINARY[3.1])")
    assert isinstance(cmd, c.Fetch)
    assert [a.section for a in cmd.attributes] == [
        Section((1,)), Section((2, 1), "TEXT"), Section((3, 1))
    ]
    assert bad("a FETCH 1 BODY[MIME]").detail == "section-text"
    assert bad("a FETCH 1 BINARY[TEXT]").detail == "section-binary"
    assert bad("a FETCH 0 FLAGS").detail == "sequence-set"


def test_fetch_condstore_qresync_modifiers() -> None:
    # RFC 7162 §3.1.4.2 and §3.2.6
    cmd = one("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)")
    assert isinstance(cmd, c.Fetch) and cmd.changed_since == 12345 and not cmd.vanished
    cmd = one("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)")
    assert isinstance(cmd, c.Fetch) and cmd.vanished
    assert bad("s FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)").detail == "VANISHED"
    assert bad("s UID FETCH 1 (FLAGS) (VANISHED)").detail == "VANISHED"


def test_store() -> None:
    cmd = one("A003 STORE 2:4 +FLAGS (\\Deleted)")
    assert cmd == c.Store("A003", SequenceSet(((2, 4),)), "add", ("\\Deleted",))
    cmd = one("A003 STORE 1 -FLAGS.SILENT \\Seen $Junk")
    assert cmd == c.Store("A003", SequenceSet(((1, 1),)), "remove", ("\\Seen", "$Junk"), silent=True)
    # RFC 7162 §3.1.3 example 10
    cmd = one("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)")
    assert isinstance(cmd, c.Store) and cmd.unchanged_since == 320162338
    assert bad("a STORE 1 FLAGS (\\*)").detail == "flag"


def test_copy_move_expunge_close() -> None:
    assert one("A003 COPY 2:4 MEETING") == c.Copy("A003", SequenceSet(((2, 4),)), "MEETING")
    assert one("a UID MOVE 42:69 foo") == c.Copy("a", SequenceSet(((42, 69),)), "foo", True, True)
    assert one("A202 EXPUNGE") == c.Expunge("A202")
    assert one("A003 UID EXPUNGE 3000:3002") == c.Expunge("A003", SequenceSet(((3000, 3002),)))
    assert one("A341 CLOSE") == c.Close("A341")
    assert one("A342 UNSELECT") == c.Unselect("A342")
    assert bad("a UID CLOSE").key == "imap.bad.unknown_command"
    assert bad("a FROB").key == "imap.bad.unknown_command"


def test_search_rfc9051_examples() -> None:
    cmd = one('A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"')
    assert isinstance(cmd, c.Search)
    assert cmd.returns == ("MIN", "COUNT")
    assert cmd.criteria == s.And(
        (
            s.Flag("\\Flagged"),
            s.Date("internal", "since", datetime(1994, 2, 1, tzinfo=UTC).date()),
            s.Not(s.Header("FROM", "Smith")),
        )
    )
    cmd = one("A284 SEARCH CHARSET UTF-8 TEXT {12+}\r\n" + "XXXXXXXXXXXX")
    assert isinstance(cmd, c.Search) and cmd.criteria == s.Text("XXXXXXXXXXXX")
    assert cmd.returns is None and cmd.charset == "UTF-8"


def test_search_chinese_and_legacy_charsets() -> None:
    cmd = one('a SEARCH CHARSET UTF-8 TEXT "发票"')
    assert isinstance(cmd, c.Search) and cmd.criteria == s.Text("发票")
    literal = "发票".encode("gb18030")
    cmd = one(b"a SEARCH CHARSET GBK SUBJECT {%d+}\r\n%s" % (len(literal), literal))
    assert isinstance(cmd, c.Search) and cmd.criteria == s.Header("SUBJECT", "发票")
    rej = bad('a SEARCH CHARSET KOI8-R TEXT "x"')
    assert rej.status == "NO" and rej.code is not None and rej.code.startswith("BADCHARSET")


def test_search_keys() -> None:
    cmd = one(
        "a UID SEARCH OR (SEEN UNFLAGGED) NOT KEYWORD $Junk UID 1:* 1,3 LARGER 100 "
        "MODSEQ 620162338 YOUNGER 3600 HEADER X-Mailer Foxmail NEW $"
    )
    assert isinstance(cmd, c.Search) and cmd.uid
    assert isinstance(cmd.criteria, s.And)
    k = cmd.criteria.keys
    assert k[0] == s.Or(s.And((s.Flag("\\Seen"), s.Flag("\\Flagged", False))), s.Not(s.Flag("$Junk")))
    assert k[1] == s.Sequence(SequenceSet(((1, STAR),)), uid=True)
    assert k[2] == s.Sequence(SequenceSet(((1, 1), (3, 3))))
    assert k[3:7] == (s.Size("larger", 100), s.ModSeq(620162338), s.Age("younger", 3600), s.Header("X-MAILER", "Foxmail"))
    assert k[8] == s.Sequence(SequenceSet(saved=True))
    # RFC 7162 §3.1.5 example 15
    cmd = one('a SEARCH MODSEQ "/flags/\\\\draft" all 620162338')
    assert isinstance(cmd, c.Search) and cmd.criteria == s.ModSeq(620162338, ("/flags/\\draft", "ALL"))
    assert bad("a SEARCH").detail == "SP"
    assert bad("a SEARCH FROBNICATE").detail == "search-key"
    assert bad("a SEARCH " + "(" * 40 + "ALL" + ")" * 40).detail == "search-key nesting"


def test_sort_thread() -> None:
    # RFC 5256 §4
    cmd = one("A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL")
    assert cmd == c.Sort(
        "A283", (c.SortKey("SUBJECT"), c.SortKey("DATE", True)), "UTF-8", s.All()
    )
    cmd = one("A285 UID SORT RETURN (COUNT) (ARRIVAL) US-ASCII SEEN")
    assert isinstance(cmd, c.Sort) and cmd.uid and cmd.returns == ("COUNT",)
    cmd = one("A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000")
    assert isinstance(cmd, c.Thread) and cmd.algorithm == "ORDEREDSUBJECT"
    assert bad("A THREAD FOO UTF-8 ALL").detail == "thread-alg"
