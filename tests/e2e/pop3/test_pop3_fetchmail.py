"""fetchmail (Debian) against RongMail's POP3 (STLS) and POP3S listeners.

The Foxmail-style flow: with ``keep`` the client downloads every message once, the server keeps
them, and later runs fetch only what is new, also after a server restart (UIDL stability,
RFC 1939 §7). Without ``keep`` the client deletes what it fetched (DELE then QUIT, RFC 1939 §6).
Messages land in an mbox through a tiny MDA; their content must survive byte-stuffing and CRLF
conversion unchanged.
"""

from __future__ import annotations

import getpass
import mailbox
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.pop3.pop3_helpers import PASSWORD, USER, Pop3Stack, message

pytestmark = pytest.mark.peer

MDA = """\
import mailbox, sys
box = mailbox.mbox(sys.argv[1])
box.lock()
try:
    box.add(sys.stdin.buffer.read())
    box.flush()
finally:
    box.unlock()
"""

CHINESE = "\u53d1\u7968\u5df2\u5f00\uff0c\u8bf7\u67e5\u6536"


class Fetchmail:
    def __init__(self, binary: str, home: Path, stack: Pop3Stack) -> None:
        self.binary = binary
        self.home = home
        self.stack = stack
        home.mkdir(parents=True, exist_ok=True)
        self.mda = home / "mda.py"
        self.mda.write_text(MDA)

    def run(
        self,
        mbox: Path,
        *,
        keep: bool,
        implicit_tls: bool,
        idfile: str = "ids",
        fetchall: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        stack = self.stack
        port = stack.ports.pop3s if implicit_tls else stack.ports.pop3
        options = ["keep" if keep else "no keep"]
        if fetchall:
            options.append("fetchall")
        tls = ["ssl"] if implicit_tls else ['sslproto "TLS1.2+"']
        rc = self.home / "fetchmailrc"
        rc.write_text(
            "set no syslog\nset no bouncemail\n"
            f"poll mail.demo.test via 127.0.0.1 proto POP3 port {port} uidl auth password\n"
            f'  user "{USER}" there with password "{PASSWORD}" is "{getpass.getuser()}" here\n'
            f"  {' '.join(options)}\n"
            f'  {" ".join(tls)} sslcertck sslcertfile "{stack.cert}"'
            f" sslcommonname mail.demo.test\n"
            f'  mda "{sys.executable} {self.mda} {mbox}"\n'
        )
        rc.chmod(0o600)
        env = dict(os.environ, HOME=str(self.home), FETCHMAILHOME=str(self.home))
        return subprocess.run(
            [self.binary, "-f", str(rc), "--idfile", str(self.home / idfile), "-v", "--nodetach"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )


def payload(msg: mailbox.mboxMessage) -> bytes:
    data = msg.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


def subjects(mbox: Path) -> list[str]:
    if not mbox.exists():
        return []
    return [str(m["Subject"]) for m in mailbox.mbox(mbox)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Pop3Stack]:
    stack = Pop3Stack(tmp_path / "server")
    yield stack
    stack.stop()


def test_keep_then_delete(fetchmail_bin: str, server: Pop3Stack, tmp_path: Path) -> None:
    stack = server
    stack.deliver(message("one", ".leading dot\r\n..two dots\r\n.\r\nafter"))
    stack.deliver(
        message("two", CHINESE).replace(
            b"\r\n\r\n", b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", 1
        )
    )
    stack.deliver(b"Subject: three\n\nbare LF line\nlast\n")
    fm = Fetchmail(fetchmail_bin, tmp_path / "fm", stack)
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


def test_no_keep_over_stls(fetchmail_bin: str, server: Pop3Stack, tmp_path: Path) -> None:
    stack = server
    stack.deliver(message("a"))
    stack.deliver(message("b"))
    fm = Fetchmail(fetchmail_bin, tmp_path / "fm", stack)
    mbox = tmp_path / "inbox.mbox"
    run = fm.run(mbox, keep=False, implicit_tls=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert subjects(mbox) == ["a", "b"]
    assert stack.inbox_uids() == []
    run = fm.run(mbox, keep=False, implicit_tls=False)
    assert run.returncode == 1, run.stdout + run.stderr
