"""fetchmail (Debian) against RongMail's POP3 (STLS) and POP3S listeners.

The Foxmail-style flow: with ``keep`` the client downloads every message once, the server keeps
them, and later runs fetch only what is new, also after a server restart (UIDL stability,
RFC 1939 §7). Without ``keep`` the client deletes what it fetched (DELE then QUIT, RFC 1939 §6).
Messages land in an mbox through a tiny MDA; their content must survive byte-stuffing and CRLF
conversion unchanged.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from fetchmail_client import Account, Fetchmail, payload, subjects

from protocol.pop3.pop3_helpers import PASSWORD, USER, Pop3Stack, message

pytestmark = pytest.mark.peer

CHINESE = "\u53d1\u7968\u5df2\u5f00\uff0c\u8bf7\u67e5\u6536"


class Client:
    """fetchmail for USER on ``stack``; ports are read at each run (a restart changes them)."""

    def __init__(self, binary: str, home: Path, stack: Pop3Stack) -> None:
        self.stack = stack
        account = Account("mail.demo.test", stack.cert, USER, PASSWORD)
        self.fetchmail = Fetchmail(binary, home, account)

    def run(self, mbox: Path, *, implicit_tls: bool, **kw: Any) -> CompletedProcess[str]:
        ports = self.stack.ports
        port = ports.pop3s if implicit_tls else ports.pop3
        assert port is not None
        return self.fetchmail.run(mbox, port=port, implicit_tls=implicit_tls, **kw)


@pytest.fixture
def pop3_server(tmp_path: Path) -> Iterator[Pop3Stack]:
    stack = Pop3Stack(tmp_path / "server")
    yield stack
    stack.stop()


def test_keep_then_delete(fetchmail_bin: str, pop3_server: Pop3Stack, tmp_path: Path) -> None:
    stack = pop3_server
    stack.deliver(message("one", ".leading dot\r\n..two dots\r\n.\r\nafter"))
    stack.deliver(
        message("two", CHINESE).replace(
            b"\r\n\r\n", b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", 1
        )
    )
    stack.deliver(b"Subject: three\n\nbare LF line\nlast\n")
    fm = Client(fetchmail_bin, tmp_path / "fm", stack)
    kept = tmp_path / "kept.mbox"

    # 1. POP3 + STLS with keep: everything arrives, everything stays
    run = fm.run(kept, keep=True, implicit_tls=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "STLS" in run.stdout + run.stderr
    assert subjects(kept) == ["one", "two", "three"]
    assert len(stack.inbox_uids()) == 3
    box = list(mailbox.mbox(kept))
    bodies = [payload(m) for m in box]
    assert bodies[0].splitlines()[:4] == [b".leading dot", b"..two dots", b".", b"after"]
    assert bodies[1].decode("utf-8").strip() == CHINESE
    assert bodies[2].splitlines() == [b"bare LF line", b"last"]

    # 2. again: nothing new (exit 1 = no mail), nothing duplicated
    run = fm.run(kept, keep=True, implicit_tls=False)
    assert run.returncode == 1, run.stdout + run.stderr
    assert subjects(kept) == ["one", "two", "three"]

    # 3. a new message: only it is fetched; then a restart changes no unique id
    stack.deliver(message("four"))
    run = fm.run(kept, keep=True, implicit_tls=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert subjects(kept) == ["one", "two", "three", "four"]
    stack.restart()
    run = fm.run(kept, keep=True, implicit_tls=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert len(stack.inbox_uids()) == 4

    # 4. POP3S without keep (fresh client state, fetch all): fetched and removed
    moved = tmp_path / "moved.mbox"
    run = fm.run(moved, keep=False, implicit_tls=True, idfile="ids2", fetchall=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(subjects(moved)) == ["four", "one", "three", "two"]
    assert stack.inbox_uids() == []


def test_no_keep_over_stls(fetchmail_bin: str, pop3_server: Pop3Stack, tmp_path: Path) -> None:
    stack = pop3_server
    stack.deliver(message("a"))
    stack.deliver(message("b"))
    fm = Client(fetchmail_bin, tmp_path / "fm", stack)
    mbox = tmp_path / "inbox.mbox"
    run = fm.run(mbox, keep=False, implicit_tls=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert subjects(mbox) == ["a", "b"]
    assert stack.inbox_uids() == []
    run = fm.run(mbox, keep=False, implicit_tls=False)
    assert run.returncode == 1, run.stdout + run.stderr
