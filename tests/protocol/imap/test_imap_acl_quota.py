"""ACL (RFC 4314) with shared mailboxes in the "Other Users" namespace (RFC 2342), QUOTA
(RFC 9208), MULTIAPPEND atomicity (RFC 3502) and the connection limits."""

from __future__ import annotations

import imaplib
import re
import socket

import pytest
from imap_helpers import PASSWORD, USER, ImapEnv, mail

OWNER = "lrswipkxtecda"
BOB = "bob@demo.test"
SHARED = '"Other Users/lisi@demo.test/INBOX"'


def _raw(c: imaplib.IMAP4, line: str) -> list[bytes]:
    """Send one tagged command (not in imaplib's table); return every line of the answer."""
    tag = c._new_tag().decode()
    c.send(f"{tag} {line}\r\n".encode())
    out = []
    while True:
        got = c.readline()
        out.append(got)
        if got.startswith(tag.encode()):
            return out


async def test_myrights_getacl_listrights(imap: ImapEnv) -> None:
    def client() -> dict[str, list[bytes]]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        out = {}
        for cmd, args, name in (("MYRIGHTS", ("INBOX",), "MYRIGHTS"),
                                ("GETACL", ("INBOX",), "ACL")):
            typ, _ = c._simple_command(cmd, *args)
            assert typ == "OK"
            out[name] = c.untagged_responses.pop(name)
        typ, data = c._simple_command("SETACL", "INBOX", "nobody@demo.test", "lr")
        assert typ == "NO" and data[0].startswith(b"[NONEXISTENT]")
        typ, data = c._simple_command("SETACL", "INBOX", USER, "lr")
        assert typ == "NO" and data[0].startswith(b"[CANNOT]")  # the owner's rights are fixed
        with pytest.raises(imaplib.IMAP4.error, match="BAD"):  # RFC 4314 §3.1: unknown right
            c._simple_command("SETACL", "INBOX", BOB, "lrz")
        lines = _raw(c, f"LISTRIGHTS INBOX {BOB}")
        assert lines[0] == (
            b'* LISTRIGHTS "INBOX" "bob@demo.test" "" l r s w i p k x t e c d a\r\n')
        assert lines[1].split()[1] == b"OK"
        c.logout()
        return out

    out = await imap.run(client)
    assert out["MYRIGHTS"] == [f'"INBOX" "{OWNER}"'.encode()]
    assert out["ACL"] == [f'"INBOX" "{USER}" "{OWNER}"'.encode()]


async def test_share_a_mailbox_with_another_account(imap: ImapEnv) -> None:
    """SETACL by the owner; the grantee sees the mailbox under "Other Users", reads and
    searches it, cannot exceed its rights; DELETEACL takes it away again."""
    from rongmail.actions import accounts as acc

    await acc.do_create_account(imap.ctx, BOB, PASSWORD, display_name="Bob")
    await imap.deliver(mail("s1"))
    await imap.deliver(mail("s2"))

    def owner_grants(rights: str) -> list[bytes]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        typ, _ = c._simple_command("SETACL", "INBOX", BOB, rights)
        assert typ == "OK"
        typ, _ = c._simple_command("GETACL", "INBOX")
        acl = c.untagged_responses.pop("ACL")
        c.logout()
        return acl

    assert await imap.run(lambda: owner_grants("lr")) == [
        f'"INBOX" "{USER}" "{OWNER}" "{BOB}" "lr"'.encode()]
    assert await imap.run(lambda: owner_grants("+s")) == [
        f'"INBOX" "{USER}" "{OWNER}" "{BOB}" "lrs"'.encode()]

    def grantee() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(BOB, PASSWORD)
        typ, ns = c.namespace()
        assert ns[0] == b'(("" "/")) (("Other Users/" "/")) NIL'
        typ, lines = c.list()
        names = [ln.decode() for ln in lines if ln]
        assert any(n.endswith(SHARED) and "\\HasNoChildren" in n for n in names), names
        assert any(n.endswith('"Other Users"') and "\\Noselect" in n for n in names), names
        typ, data = c._simple_command("MYRIGHTS", SHARED)
        assert c.untagged_responses.pop("MYRIGHTS") == [f"{SHARED} \"lrs\"".encode()]
        typ, data = c.status(SHARED, "(MESSAGES UNSEEN)")
        assert typ == "OK" and b"MESSAGES 2" in data[0]
        typ, data = c.select(SHARED)
        assert typ == "OK" and data == [b"2"]
        assert c.untagged_responses.get("READ-WRITE") is not None
        c.literal = "发票".encode()
        typ, data = c.uid("SEARCH", "CHARSET", "UTF-8", "TEXT")
        assert data == [b"1 2"]
        typ, data = c.fetch("1", "(BODY[HEADER.FIELDS (MESSAGE-ID)] FLAGS)")
        assert b"s1@example.com" in data[0][1] and b"\\Seen" in data[1]  # implicit \Seen: s
        typ, data = c.store("1", "+FLAGS", "\\Flagged")  # w missing
        assert typ == "NO" and data[0].startswith(b"[NOPERM]")
        typ, data = c.expunge()  # e missing
        assert typ == "NO" and data[0].startswith(b"[NOPERM]")
        typ, data = c.copy("1", "INBOX")  # from the shared mailbox into bob's own
        assert typ == "OK"
        typ, data = c._simple_command("GETACL", SHARED)  # a missing
        assert typ == "NO"
        typ, data = c.append(SHARED, None, None, mail("b1"))  # i missing
        assert typ == "NO" and data[0].startswith(b"[NOPERM]")
        typ, data = c.create(SHARED[:-1] + '/sub"')  # k missing
        assert typ == "NO"
        c.logout()

    await imap.run(grantee)
    bob = await imap.reader.account_by_address(BOB)
    bob_inbox = await imap.reader.mailbox_by_role(bob.id, "inbox")
    assert len(await imap.reader.mailbox_entries(bob_inbox.id)) == 1
    acl = await imap.reader.acl(imap.inbox.id)
    assert [(e.grantee, e.rights) for e in acl] == [(BOB, "lrs")]

    def owner_removes() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        typ, _ = c._simple_command("DELETEACL", "INBOX", BOB)
        assert typ == "OK"
        c.logout()
        b = imaplib.IMAP4(imap.host, imap.port)
        b.login(BOB, PASSWORD)
        typ, lines = b.list()
        assert not any(b"Other Users" in ln for ln in lines if ln), lines[6:]
        typ, data = b.select(SHARED)
        assert typ == "NO" and data[0].startswith(b"[NONEXISTENT]")
        b.logout()

    await imap.run(owner_removes)
    assert await imap.reader.shared_with(bob.id) == []


async def test_grantee_with_insert_and_expunge_rights(imap: ImapEnv) -> None:
    """Rights ``lrswite``: the grantee appends into, flags, moves out of and expunges the
    owner's mailbox, and an IDLE-free NOOP sees the owner's new mail (the session follows
    the owner's change bus)."""
    from rongmail.actions import accounts as acc
    from rongmail.actions import mailboxes as mbx

    await acc.do_create_account(imap.ctx, BOB, PASSWORD)
    await mbx.do_set_acl(imap.ctx, imap.inbox.id, BOB, "lrswite")

    def grantee() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(BOB, PASSWORD)
        typ, data = c.append(SHARED, "(\\Seen $Work)", None, mail("g1"))
        assert typ == "OK" and re.search(rb"APPENDUID \d+ 1", data[0]), data
        typ, data = c.select(SHARED)
        assert data == [b"1"]
        imap.deliver_from_thread(mail("g2"))
        typ, data = c.noop()
        assert c.untagged_responses.pop("EXISTS")[-1] == b"2"
        typ, data = c.store("2", "+FLAGS", "(\\Flagged $Work)")
        assert typ == "OK"
        typ, data = c._simple_command("MOVE", "1", "INBOX")
        assert typ == "OK"
        typ, data = c.store("1", "+FLAGS", "\\Deleted")
        typ, data = c.expunge()
        assert typ == "OK"
        c.logout()

    await imap.run(grantee)
    assert await imap.reader.mailbox_entries(imap.inbox.id) == []
    bob = await imap.reader.account_by_address(BOB)
    bob_inbox = await imap.reader.mailbox_by_role(bob.id, "inbox")
    assert len(await imap.reader.mailbox_entries(bob_inbox.id)) == 1


async def test_multiappend_is_all_or_nothing(imap: ImapEnv) -> None:
    """RFC 3502 §6.3.11: if one message cannot be stored, none is."""
    from rongmail.store.sql import admin as adm

    def client() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        one, two = mail("m1"), mail("m2")
        tag = c._new_tag().decode()
        c.send(f"{tag} APPEND INBOX (\\Seen) {{{len(one)}+}}\r\n".encode() + one
               + f" {{{len(two)}+}}\r\n".encode() + two + b"\r\n")
        reply = c.readline()
        assert reply.startswith(f"{tag} OK [APPENDUID".encode()), reply
        assert reply.split()[4] == b"1:2]"
        c.logout()

    await imap.run(client)
    assert len(await imap.reader.mailbox_entries(imap.inbox.id)) == 2
    # a quota that admits the first message but not the second: nothing is stored
    used = (await imap.reader.account(imap.account.id)).used_bytes
    await imap.ctx.meta.write(adm.set_account_quota(imap.account.id, used + len(mail("m3")) + 10))

    def over_quota() -> None:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        one, two = mail("m3"), mail("m4")
        tag = c._new_tag().decode()
        c.send(f"{tag} APPEND INBOX {{{len(one)}+}}\r\n".encode() + one
               + f" {{{len(two)}+}}\r\n".encode() + two + b"\r\n")
        reply = c.readline()
        assert reply.startswith(f"{tag} NO [OVERQUOTA]".encode()), reply
        c.logout()

    await imap.run(over_quota)
    assert len(await imap.reader.mailbox_entries(imap.inbox.id)) == 2


async def test_quota_root(imap: ImapEnv) -> None:
    def client() -> list[bytes]:
        c = imaplib.IMAP4(imap.host, imap.port)
        c.login(USER, PASSWORD)
        typ, data = c.getquotaroot("INBOX")
        assert typ == "OK"
        typ, data = c._simple_command("SETQUOTA", '""', "(STORAGE 10)")
        assert typ == "NO"
        c.logout()
        return data

    await imap.run(client)


async def test_sessions_per_user_limit(imap: ImapEnv) -> None:
    def client() -> None:
        sessions = []
        for _ in range(10):
            c = imaplib.IMAP4(imap.host, imap.port)
            c.login(USER, PASSWORD)
            sessions.append(c)
        extra = imaplib.IMAP4(imap.host, imap.port)
        with pytest.raises(imaplib.IMAP4.error, match="LIMIT"):
            extra.login(USER, PASSWORD)
        for c in sessions:
            c.logout()

    await imap.run(client)


async def test_plaintext_login_refused_without_tls_by_default(imap: ImapEnv) -> None:
    from dataclasses import replace

    server = imap.extra.get("server")
    if server is None:
        pytest.skip("fixture does not expose the server")
    server.deps.options = replace(server.deps.options, allow_plaintext_auth=False)

    def client() -> None:
        with socket.create_connection((imap.host, imap.port), timeout=5) as sock:
            f = sock.makefile("rb")
            greeting = f.readline()
            assert b"LOGINDISABLED" in greeting and b"STARTTLS" in greeting
            sock.sendall(b"a LOGIN lisi@demo.test Secret-pass-123\r\n")
            assert f.readline().startswith(b"a NO [PRIVACYREQUIRED]")

    await imap.run(client)


async def test_sessions_per_ip_limit(imap: ImapEnv) -> None:
    def client() -> bytes:
        socks = [socket.create_connection((imap.host, imap.port), timeout=5) for _ in range(20)]
        try:
            for s in socks:
                assert s.makefile("rb").readline().startswith(b"* OK")
            with socket.create_connection((imap.host, imap.port), timeout=5) as extra:
                return extra.makefile("rb").readline()
        finally:
            for s in socks:
                s.close()

    line = await imap.run(client)
    assert line.startswith(b"* BYE [UNAVAILABLE]")
