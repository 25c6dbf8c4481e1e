"""CREATE/DELETE/RENAME/SUBSCRIBE/LIST/LSUB/STATUS/NAMESPACE (RFC 9051 §6.3, RFC 5258,
RFC 5819, RFC 6154), with Chinese folder names in modified UTF-7 and in UTF-8."""

from __future__ import annotations

import imaplib

from imap_helpers import PASSWORD, USER, ImapEnv, mail
from imapclient import IMAPClient


def _login(env: ImapEnv) -> IMAPClient:
    c = IMAPClient(env.host, port=env.port, ssl=False, timeout=10)
    c.login(USER, PASSWORD)
    return c


async def test_chinese_folder_round_trip_mutf7(imap: ImapEnv) -> None:
    def client() -> None:
        c = _login(imap)
        c.create_folder("发票/2024年")  # imapclient encodes modified UTF-7 (RFC 3501 §5.1.3)
        names = [f[2] for f in c.list_folders()]
        assert "发票" in names and "发票/2024年" in names
        c.rename_folder("发票/2024年", "发票/二〇二四")
        assert "发票/二〇二四" in [f[2] for f in c.list_folders("发票/", "%")]
        c.select_folder("发票/二〇二四")
        c.close_folder()
        c.delete_folder("发票/二〇二四")
        assert "发票/二〇二四" not in [f[2] for f in c.list_folders()]
        c.logout()

    await imap.run(client)
    names = [m.name for m in await imap.reader.mailboxes(imap.account.id)]
    assert "发票" in names  # stored as Unicode, not as the wire form


async def test_wire_form_is_modified_utf7(imap: ImapEnv) -> None:
    def client() -> list[bytes]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        assert c.create("&U9F5aA-")[0] == "OK"  # 发票
        typ, data = c.list('""', "*")
        c.logout()
        return [d for d in data if isinstance(d, bytes)]

    lines = await imap.run(client)
    assert b'(\\HasNoChildren) "/" "&U9F5aA-"' in lines
    assert b'(\\HasNoChildren \\Sent) "/" "Sent"' in lines
    assert any(line.endswith(b'"INBOX"') for line in lines)


async def test_utf8_accept_names(imap: ImapEnv) -> None:
    def client() -> list[bytes]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        c.enable("UTF8=ACCEPT")
        assert c.create('"收件归档&备份"')[0] == "OK"
        typ, data = c.list('""', "*")
        c.logout()
        return [d for d in data if isinstance(d, bytes)]

    lines = await imap.run(client)
    assert '"收件归档&备份"'.encode() in b"\n".join(lines)


async def test_list_extended_status_special_use(imap: ImapEnv) -> None:
    await imap.deliver(mail("s1"))
    await imap.deliver(mail("s2"), flags=1)

    def client() -> list[bytes]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        out = []
        for args in ('(SPECIAL-USE) "" "*"', '"" "INBOX" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))',
                     '"" ""', '(SUBSCRIBED) "" "%"'):
            typ, data = c._simple_command("LIST", args)
            assert typ == "OK"
            out += c._untagged_response(typ, data, "LIST")[1]
            out += c._untagged_response(typ, data, "STATUS")[1]
        c.logout()
        return [d for d in out if isinstance(d, bytes)]

    lines = await imap.run(client)
    text = b"\n".join(lines)
    assert b'(\\HasNoChildren \\Drafts) "/" "Drafts"' in text
    assert b'"INBOX" (MESSAGES 2 UNSEEN 1 UIDNEXT 3)' in text
    assert b'(\\Noselect) "/" ""' in text
    assert b'\\Subscribed' in text


async def test_status_namespace_lsub_subscribe(imap: ImapEnv) -> None:
    await imap.deliver(mail("t1"))

    def client() -> None:
        c = _login(imap)
        st = c.folder_status("INBOX", ["MESSAGES", "UIDVALIDITY", "UIDNEXT", "UNSEEN",
                                       "HIGHESTMODSEQ", "SIZE", "DELETED"])
        assert st[b"MESSAGES"] == 1 and st[b"UIDNEXT"] == 2 and st[b"UNSEEN"] == 1
        assert st[b"DELETED"] == 0 and st[b"SIZE"] > 100 and st[b"HIGHESTMODSEQ"] > 0
        ns = c.namespace()
        assert ns.personal[0][0] == "" and ns.personal[0][1] == "/"
        c.create_folder("项目")
        c.unsubscribe_folder("项目")
        assert "项目" not in [f[2] for f in c.list_sub_folders()]
        c.subscribe_folder("项目")
        assert "项目" in [f[2] for f in c.list_sub_folders()]
        c.logout()

    await imap.run(client)


async def test_errors_have_response_codes(imap: ImapEnv) -> None:
    def client() -> list[str]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        out = []
        for cmd, args in (("SELECT", ("nope",)), ("CREATE", ("INBOX",)), ("DELETE", ("INBOX",)),
                          ("CREATE", ("X (USE (\\Frob))",))):
            typ, data = c._simple_command(cmd, *args)
            out.append(f"{typ} {data[0].decode() if data and data[0] else ''}")
        c.logout()
        return out

    no_such, exists, inbox, use = await imap.run(client)
    assert no_such.startswith("NO [NONEXISTENT]")
    assert exists.startswith("NO [ALREADYEXISTS]")
    assert inbox.startswith("NO [CANNOT]")
    assert use.startswith("NO [USEATTR]")


async def test_create_special_use(imap: ImapEnv) -> None:
    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        # the account already has \Sent: a second one is refused, a new role is not known
        typ, data = c._simple_command("CREATE", "Outbox2 (USE (\\Sent))")
        assert typ == "NO"
        c.logout()

    await imap.run(client)


async def test_list_recursivematch_childinfo(imap: ImapEnv) -> None:
    # RFC 5258 §5 example 5: Foo is not subscribed but has a subscribed child.
    def client() -> list[bytes]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        c.create("Foo/Bar")
        c.unsubscribe("Foo")
        typ, data = c._simple_command("LIST", '(SUBSCRIBED RECURSIVEMATCH) "" "%"')
        lines = c._untagged_response(typ, data, "LIST")[1]
        c.logout()
        return [x for x in lines if isinstance(x, bytes)]

    lines = await imap.run(client)
    assert b'(\\HasChildren) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))' in lines


async def test_select_inbox_reads_one_row_not_the_tree(imap: ImapEnv) -> None:
    """SELECT/EXAMINE of ``INBOX`` (any case) is a point read of the inbox-role mailbox;
    other names, ``INBOX``'s children included, still resolve through the mailbox tree. Both
    answer the same as before: EXISTS, READ-WRITE / READ-ONLY, NONEXISTENT for an unknown name."""
    await imap.deliver(mail("s1"))
    await imap.deliver(mail("s2"))
    tree_reads: list[int] = []
    real = imap.reader.mailbox_tree

    async def counting(account_id: int):  # type: ignore[no-untyped-def]
        tree_reads.append(account_id)
        return await real(account_id)

    imap.reader.mailbox_tree = counting

    def client() -> dict[str, object]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        out: dict[str, object] = {}
        assert c.create("INBOX/&W1A-")[0] == "OK"  # INBOX/子 in modified UTF-7
        assert c.create("Work")[0] == "OK"
        before = len(tree_reads)
        typ, data = c.select("inbox")
        out["select"] = (typ, data, "READ-WRITE" in c.untagged_responses)
        typ, data = c.select("InBoX", readonly=True)
        out["examine"] = (typ, data, "READ-ONLY" in c.untagged_responses)
        out["inbox_tree_reads"] = len(tree_reads) - before
        before = len(tree_reads)
        out["child"] = c.select("INBOX/&W1A-")
        out["work"] = c.select("Work")
        out["missing"] = c.select("Nowhere")
        out["other_tree_reads"] = len(tree_reads) - before
        c.logout()
        return out

    try:
        out = await imap.run(client)
    finally:
        imap.reader.mailbox_tree = real
    assert out["select"] == ("OK", [b"2"], True)
    assert out["examine"] == ("OK", [b"2"], True)
    assert out["inbox_tree_reads"] == 0, "INBOX resolved without the tree"
    assert out["child"][0] == "OK" and out["work"][0] == "OK"
    assert out["missing"][0] == "NO"
    assert out["other_tree_reads"] == 3, "other names resolve through the tree"
