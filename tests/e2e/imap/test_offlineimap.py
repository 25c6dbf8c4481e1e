"""offlineimap3, a second sync tool with its own IMAP code (Python imaplib2), against
``rongmail serve`` over IMAPS: a first sync, changes on both sides (flags, deletes, new mail
locally and server-side, a new Chinese folder locally), a second sync; both sides equal.
offlineimap's ``utf8foldernames`` turns the server's modified UTF-7 names into UTF-8
directories, so ``项目/发票`` on disk is the same folder the server lists.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from imap_e2e import (
    ImapServer,
    client_tls,
    deliver_to_maildir,
    diff,
    imap_snapshot,
    maildir_snapshot,
    make_message,
    message_id,
    set_maildir_flags,
    uids_by_message_id,
    write_mbox,
)
from imapclient import IMAPClient

pytestmark = pytest.mark.peer

FOLDER = "项目/发票"


def offlineimaprc(srv: ImapServer, root: Path) -> str:
    return f"""[general]
accounts = rong
metadata = {root}/meta
fsync = false
ui = basic

[Account rong]
localrepository = local
remoterepository = remote
utf8foldernames = yes

[Repository local]
type = Maildir
localfolders = {root}/Mail
sep = /

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {srv.imaps}
ssl = yes
sslcacertfile = {srv.cafile}
remoteuser = {srv.user}
remotepass = {srv.password}
"""


def offlineimap(binary: str, rc: Path) -> str:
    proc = subprocess.run([binary, "-c", str(rc), "-o", "-u", "basic"], capture_output=True,
                          text=True, timeout=180)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "ERROR" not in out, out[-4000:]
    return out


def by_mid(folder: Path) -> dict[str, Path]:
    out = {}
    for sub in ("cur", "new"):
        for p in (folder / sub).iterdir():
            for line in p.read_bytes().split(b"\r\n\r\n")[0].splitlines():
                if line.lower().startswith(b"message-id:"):
                    out[line.split(b":", 1)[1].strip().decode()] = p
    return out


def test_offlineimap_sync_round_trip(offlineimap_bin: str, imap_server: ImapServer,
                                     tmp_path: Path) -> None:
    srv = imap_server
    srv.import_mbox(write_mbox(tmp_path / "in.mbox", (make_message(i) for i in range(300))))
    srv.import_mbox(write_mbox(tmp_path / "inv.mbox", (
        make_message(i, subject=f"增值税发票 {i}") for i in range(300, 330))), FOLDER)
    with IMAPClient("127.0.0.1", srv.imaps, ssl=True, ssl_context=client_tls(srv.cafile)) as c:
        c.login(srv.user, srv.password)
        c.select_folder("INBOX")
        uid = uids_by_message_id(c)
        c.add_flags([uid[message_id(i)] for i in range(100)], [b"\\Seen"])
        c.add_flags([uid[message_id(i)] for i in range(50, 60)], [b"\\Flagged"])

    root = tmp_path / "oi"
    root.mkdir()
    rc = root / "offlineimaprc"
    rc.write_text(offlineimaprc(srv, root))
    offlineimap(offlineimap_bin, rc)
    mail = root / "Mail"
    assert diff(imap_snapshot(srv.imaps, srv.user, srv.password, srv.cafile),
                maildir_snapshot(mail)) == []
    assert len(maildir_snapshot(mail)[FOLDER]) == 30

    # local changes
    inbox = by_mid(mail / "INBOX")
    for i in range(100, 110):
        set_maildir_flags(inbox[message_id(i)], "FS")
    for i in range(110, 115):
        inbox[message_id(i)].unlink()
    for i in range(3):
        deliver_to_maildir(mail / FOLDER, make_message(i, tag="oi-local", subject="发票 补开"),
                           f"{time.time_ns()}_{i}.local")
    new = mail / "客户"
    for sub in ("cur", "new", "tmp"):
        (new / sub).mkdir(parents=True)
    deliver_to_maildir(new, make_message(0, tag="oi-client"), f"{time.time_ns()}.client")
    # server changes
    with IMAPClient("127.0.0.1", srv.imaps, ssl=True, ssl_context=client_tls(srv.cafile)) as c:
        c.login(srv.user, srv.password)
        c.select_folder("INBOX")
        uid = uids_by_message_id(c)
        c.add_flags([uid[message_id(i)] for i in range(200, 210)], [b"\\Answered"])
        c.remove_flags([uid[message_id(i)] for i in range(0, 10)], [b"\\Seen"])
        c.delete_messages([uid[message_id(i)] for i in range(210, 215)])
        c.expunge()
        for i in range(3):
            c.append("INBOX", make_message(i, tag="oi-server"))

    offlineimap(offlineimap_bin, rc)
    server = imap_snapshot(srv.imaps, srv.user, srv.password, srv.cafile)
    assert diff(server, maildir_snapshot(mail)) == []
    assert len(server["INBOX"]) == 300 - 5 - 5 + 3
    assert server["INBOX"][message_id(100)] == {"\\Flagged", "\\Seen"}
    assert server["INBOX"][message_id(200)] == {"\\Answered"}
    assert server["INBOX"][message_id(0)] == frozenset()
    assert len(server[FOLDER]) == 33 and message_id(0, "oi-client") in server["客户"]
    with IMAPClient("127.0.0.1", srv.imaps, ssl=True, ssl_context=client_tls(srv.cafile)) as c:
        c.login(srv.user, srv.password)
        c.select_folder(FOLDER, readonly=True)
        assert len(c.search(["SUBJECT", "补开"], charset="UTF-8")) == 3
        assert len(c.search(["TEXT", "发票"], charset="UTF-8")) == 33
