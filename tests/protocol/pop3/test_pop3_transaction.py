"""POP3 TRANSACTION and UPDATE transcripts: STAT, LIST, RETR, TOP, UIDL, DELE, RSET, NOOP, QUIT.

RFC 1939 §5-§7. Properties checked on the wire:

* LIST/STAT sizes equal the octets RETR delivers after un-stuffing (CRLF line ends), for
  messages with bare LF, leading dots, no final newline and UTF-8 text;
* UIDL values are stable across sessions and across a restart of server and store;
* "leave a copy on the server": only DELE followed by QUIT removes; RSET and a dropped
  connection keep everything.
"""

from __future__ import annotations

import poplib
from collections.abc import Callable

import pytest
from pop3_helpers import PASSWORD, USER, Pop3Stack, Wire, command, message, single

TRICKY = [
    message("plain"),
    b"Subject: bare LF\n\nline one\nline two\n",
    b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend",
    "Subject: =?UTF-8?B?5Y+R56Wo?=\r\n\r\n\u53d1\u7968 \u8bf7\u67e5\u6536\r\n".encode(),
    b"Subject: cr only\r\rbody\r",
]


def login(stack: Pop3Stack) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", stack.ports.pop3, timeout=10)
    client.user(USER)
    client.pass_(PASSWORD)
    return client


def canonical(raw: bytes) -> bytes:
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


def test_stat_list_retr_sizes_agree(pop3_plain: Pop3Stack) -> None:
    for raw in TRICKY:
        pop3_plain.deliver(raw)
    client = login(pop3_plain)
    count, octets = client.stat()
    assert count == len(TRICKY)
    _, listing, _ = client.list()
    sizes = {int(n): int(s) for n, s in (entry.split() for entry in listing)}
    assert sum(sizes.values()) == octets
    for n, raw in enumerate(TRICKY, start=1):
        resp, lines, _ = client.retr(n)
        body = b"".join(line + b"\r\n" for line in lines)
        assert body == canonical(raw)
        assert len(body) == sizes[n] == int(resp.split()[1])
        assert single(client.list(n)) == f"+OK {n} {sizes[n]}".encode()
    client.quit()


def test_retr_is_byte_stuffed_on_the_wire(pop3_plain: Pop3Stack) -> None:
    pop3_plain.deliver(TRICKY[2])
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    w.cmd(f"USER {USER}")
    w.cmd(f"PASS {PASSWORD}")
    w.send(b"RETR 1\r\n")
    assert w.line() == b"+OK %d octets" % len(canonical(TRICKY[2]))
    raw = []
    while (line := w.file.readline()) != b".\r\n":
        raw.append(line)
    assert raw[2:] == [b"..leading dot\r\n", b"...two dots\r\n", b"..\r\n", b"end\r\n"]
    w.close()


def test_top(pop3_plain: Pop3Stack) -> None:
    pop3_plain.deliver(b"Subject: t\r\nX: y\r\n\r\n1\r\n.2\r\n3\r\n")
    pop3_plain.deliver(b"Subject: no body\r\n")
    client = login(pop3_plain)
    assert client.top(1, 0)[1] == [b"Subject: t", b"X: y", b""]
    assert client.top(1, 2)[1] == [b"Subject: t", b"X: y", b"", b"1", b".2"]
    assert client.top(1, 99)[1] == [b"Subject: t", b"X: y", b"", b"1", b".2", b"3"]
    assert client.top(2, 5)[1] == [b"Subject: no body"]
    with pytest.raises(poplib.error_proto, match="Syntax error"):
        command(client, "TOP 1")
    with pytest.raises(poplib.error_proto, match="Syntax error"):
        command(client, "TOP 1 -1")
    client.quit()


def test_uidl_stable_across_sessions_and_restart(pop3_plain: Pop3Stack) -> None:
    uids = [pop3_plain.deliver(message(f"m{i}")) for i in range(3)]
    client = login(pop3_plain)
    _, listing, _ = client.uidl()
    first = [entry.decode() for entry in listing]
    v = pop3_plain.uidvalidity
    assert first == [f"{n} {v}.{uid}" for n, uid in enumerate(uids, start=1)]
    assert single(client.uidl(2)) == f"+OK 2 {v}.{uids[1]}".encode()
    client.dele(1)
    client.quit()
    pop3_plain.restart()
    client = login(pop3_plain)
    _, listing, _ = client.uidl()
    # message numbers are renumbered, unique ids are not
    assert [entry.decode() for entry in listing] == [f"1 {v}.{uids[1]}", f"2 {v}.{uids[2]}"]
    client.quit()


def test_leave_a_copy_dele_rset_quit(pop3_plain: Pop3Stack) -> None:
    uids = [pop3_plain.deliver(message(f"m{i}")) for i in range(3)]
    client = login(pop3_plain)
    size1 = int(single(client.list(1)).split()[2])
    total = client.stat()[1]
    assert client.dele(1) == b"+OK Message 1 deleted"
    assert client.stat() == (2, total - size1)
    with pytest.raises(poplib.error_proto, match="Message 1 is already deleted"):
        client.retr(1)
    with pytest.raises(poplib.error_proto, match="already deleted"):
        client.dele(1)
    assert [entry.split()[0] for entry in client.list()[1]] == [b"2", b"3"]
    assert client.rset().startswith(b"+OK Maildrop has 3 messages")
    client.dele(2)
    assert client.noop() == b"+OK OK"
    assert client.quit() == b"+OK mail.demo.test signing off, 1 messages deleted"
    assert pop3_plain.inbox_uids() == [uids[0], uids[2]]


def test_dropped_connection_deletes_nothing(pop3_plain: Pop3Stack) -> None:
    uids = [pop3_plain.deliver(message(f"m{i}")) for i in range(2)]
    w = Wire(pop3_plain.ports.pop3)
    w.line()
    w.cmd(f"USER {USER}")
    w.cmd(f"PASS {PASSWORD}")
    assert w.cmd("DELE 1").startswith(b"+OK")
    assert w.cmd("DELE 2").startswith(b"+OK")
    w.close()
    assert pop3_plain.inbox_uids() == uids


def test_quit_in_authorization_deletes_nothing(pop3_plain: Pop3Stack) -> None:
    pop3_plain.deliver(message("keep"))
    client = poplib.POP3("127.0.0.1", pop3_plain.ports.pop3, timeout=10)
    assert client.quit() == b"+OK mail.demo.test RongMail POP3 signing off"
    assert len(pop3_plain.inbox_uids()) == 1


def test_snapshot_hides_new_mail_until_next_session(pop3_plain: Pop3Stack) -> None:
    pop3_plain.deliver(message("old"))
    client = login(pop3_plain)
    pop3_plain.deliver(message("new"))
    assert client.stat()[0] == 1
    with pytest.raises(poplib.error_proto, match="No such message: 2"):
        client.retr(2)
    client.quit()
    client = login(pop3_plain)
    assert client.stat()[0] == 2
    client.quit()


def test_message_number_syntax(pop3_plain: Pop3Stack) -> None:
    pop3_plain.deliver(message("one"))
    client = login(pop3_plain)
    for bad in ("0", "2", "99999999999", "-1", "1x", "\uff11"):
        with pytest.raises(poplib.error_proto, match="-ERR"):
            command(client, f"RETR {bad}")
    with pytest.raises(poplib.error_proto, match="Syntax error"):
        command(client, "LIST 1 2")
    with pytest.raises(poplib.error_proto, match="Syntax error"):
        command(client, "DELE")
    client.quit()


def test_empty_maildrop(pop3_plain: Pop3Stack) -> None:
    client = login(pop3_plain)
    assert client.stat() == (0, 0)
    assert client.list()[:2] == (b"+OK 0 messages (0 octets)", [])
    assert client.uidl()[1] == []
    client.quit()


def test_retr_marks_seen_at_quit(pop3_factory: Callable[..., Pop3Stack]) -> None:
    from rongmail.core.flags import SEEN

    for stack, expect_seen in ((pop3_factory(allow_plaintext_auth=True), True),
                               (pop3_factory(allow_plaintext_auth=True, mark_seen=False), False)):
        uids = [stack.deliver(message(f"m{i}")) for i in range(3)]
        client = login(stack)
        client.retr(1)
        client.top(2, 0)
        client.retr(3)
        client.dele(3)
        assert all(not f & SEEN for f in stack.inbox_flags().values())  # nothing before QUIT
        client.quit()
        flags = stack.inbox_flags()
        assert set(flags) == {uids[0], uids[1]}
        assert bool(flags[uids[0]] & SEEN) is expect_seen
        assert not flags[uids[1]] & SEEN  # TOP does not mark
