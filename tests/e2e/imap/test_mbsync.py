"""mbsync (isync) two-way sync of a 10,000-message account against ``rongmail serve`` over
IMAPS: initial pull, then changes on both sides (flags, moves, deletes, new mail, a new Chinese
folder), then re-sync; after each sync both sides hold the same Message-IDs with the same
flags in every folder (the Maildir side read from the file names, the server over IMAP).

Chinese folder names round-trip: isync 1.4 keeps the modified UTF-7 names of RFC 3501 §5.1.3
as Maildir directory names, the server shows them as UTF-8 to a UTF8=ACCEPT client.
``SEARCH CHARSET UTF-8 TEXT 发票`` on the server finds exactly the messages whose local copy
contains 发票.
"""

from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path

import pytest
from imap_e2e import (
    SUBJECTS,
    ImapServer,
    client_tls,
    deliver_to_maildir,
    diff,
    imap_snapshot,
    maildir_folders,
    maildir_messages,
    make_message,
    message_id,
    set_maildir_flags,
    uids_by_message_id,
    write_mbox,
)
from imapclient import IMAPClient, imap_utf7

pytestmark = [pytest.mark.peer, pytest.mark.slow]

TOTAL = 10_000
INVOICES = 1_000  # of TOTAL, imported into 项目/发票
FOLDER = "项目/发票"
NEW_FOLDER = "客户/合同"


def mbsyncrc(srv: ImapServer, maildir: Path) -> str:
    # FSync off: the Maildir is throwaway, and fsyncing 10,000 files measures the disk, not
    # the server. The server is trusted through its certificate file (SAN 127.0.0.1).
    return f"""FSync no

IMAPAccount rong
Host 127.0.0.1
Port {srv.imaps}
User {srv.user}
Pass {srv.password}
SSLType IMAPS
CertificateFile {srv.cafile}
PipelineDepth 64

IMAPStore remote
Account rong

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel rong
Far :remote:
Near :local:
Patterns *
Create Both
Remove Both
Expunge Both
SyncState *
CopyArrivalDate yes
"""


def mbsync(binary: str, rc: Path) -> float:
    started = time.monotonic()
    proc = subprocess.run([binary, "-c", str(rc), "-a"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return time.monotonic() - started


def local_snapshot(root: Path) -> dict[str, dict[str, frozenset[str]]]:
    """The Maildir tree keyed by IMAP (UTF-8) names; isync 1.4 stores modified UTF-7."""
    return {imap_utf7.decode(name.encode()): maildir_messages(path)
            for name, path in maildir_folders(root)}


def local_folder(root: Path, name: str) -> Path:
    return root / imap_utf7.encode(name).decode()


def files_by_mid(folder: Path) -> dict[str, Path]:
    out = {}
    for sub in ("cur", "new"):
        for p in (folder / sub).iterdir():
            with p.open("rb") as f:
                head = f.read(4096)
            for line in head.split(b"\r\n" if b"\r\n" in head else b"\n"):
                if line.lower().startswith(b"message-id:"):
                    out[line.split(b":", 1)[1].strip().decode()] = p
                    break
    return out


def test_two_way_sync_10000_messages(mbsync_bin: str, imap_server: ImapServer,
                                     tmp_path: Path) -> None:
    srv = imap_server
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    write_mbox(tmp_path / "inbox.mbox",
               (make_message(i) for i in range(TOTAL - INVOICES)))
    write_mbox(tmp_path / "invoices.mbox",
               (make_message(i, subject=f"发票 {i}") for i in range(TOTAL - INVOICES, TOTAL)))
    srv.import_mbox(tmp_path / "inbox.mbox")
    srv.import_mbox(tmp_path / "invoices.mbox", FOLDER)
    timings["import"] = time.monotonic() - t0

    with IMAPClient("127.0.0.1", srv.imaps, ssl=True, ssl_context=_tls(srv)) as c:
        c.login(srv.user, srv.password)
        c.select_folder("INBOX")
        uid_of = uids_by_message_id(c)
        c.add_flags([uid_of[message_id(i)] for i in range(3000)], [b"\\Seen"], silent=True)
        c.add_flags([uid_of[message_id(i)] for i in range(2000, 2100)], [b"\\Flagged"])
        c.add_flags([uid_of[message_id(i)] for i in range(2100, 2110)], [b"\\Answered"])

    maildir = tmp_path / "Mail"
    maildir.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(mbsyncrc(srv, maildir))

    timings["initial sync"] = mbsync(mbsync_bin, rc)
    server = imap_snapshot(srv.imaps, srv.user, srv.password, srv.cafile)
    local = local_snapshot(maildir)
    assert sum(len(b) for b in server.values()) == TOTAL
    assert diff(server, local) == []
    assert (local_folder(maildir, FOLDER) / "cur").is_dir()  # 项目/&U9FxZw- on disk

    # -- changes on the local side (a MUA on the Maildir) -----------------------------------
    inbox = maildir / "INBOX"
    by_mid = files_by_mid(inbox)
    for i in range(3000, 3100):  # read and flagged locally
        set_maildir_flags(by_mid[message_id(i)], "FS")
    for i in range(3100, 3150):  # deleted locally
        by_mid[message_id(i)].unlink()
    invoices = local_folder(maildir, FOLDER)
    for i in range(3150, 3170):  # moved locally into 项目/发票 (a rename between folders)
        p = by_mid[message_id(i)]
        p.rename(invoices / "cur" / (p.name.split(",U=")[0] + ":2,"))  # a new UID there
    for i in range(10):  # new mail delivered locally
        deliver_to_maildir(inbox, make_message(i, tag="local"), f"{time.time_ns()}.{i}.local")
    new_folder = local_folder(maildir, NEW_FOLDER)
    for sub in ("cur", "new", "tmp"):
        (new_folder / sub).mkdir(parents=True)
    deliver_to_maildir(new_folder, make_message(0, tag="contract", subject="合同与发票"),
                       f"{time.time_ns()}.contract")

    # -- changes on the server side (another IMAP client) -------------------------------------
    with IMAPClient("127.0.0.1", srv.imaps, ssl=True, ssl_context=_tls(srv)) as c:
        c.login(srv.user, srv.password)
        c.select_folder("INBOX")
        uid_of = uids_by_message_id(c)
        c.add_flags([uid_of[message_id(i)] for i in range(4000, 4100)], [b"\\Flagged"])
        c.remove_flags([uid_of[message_id(i)] for i in range(0, 100)], [b"\\Seen"])
        c.delete_messages([uid_of[message_id(i)] for i in range(4100, 4150)])
        c.expunge()
        c.move([uid_of[message_id(i)] for i in range(4150, 4170)], "Archive")
        for i in range(10):
            c.append("INBOX", make_message(i, tag="server"), flags=[b"\\Seen"] if i % 2 else [])

    timings["re-sync"] = mbsync(mbsync_bin, rc)
    server = imap_snapshot(srv.imaps, srv.user, srv.password, srv.cafile)
    local = local_snapshot(maildir)
    assert diff(server, local, empty_folders=False) == []  # 客户 (created for 客户/合同) is new
    assert set(server) >= {"INBOX", FOLDER, NEW_FOLDER, "Archive"}
    box = server["INBOX"]
    assert len(box) == TOTAL - INVOICES - 50 - 20 - 50 - 20 + 10 + 10
    assert box[message_id(3000)] == {"\\Seen", "\\Flagged"}
    assert box[message_id(4000)] == {"\\Flagged"}
    assert box[message_id(0)] == frozenset()
    assert message_id(3100) not in box and message_id(4100) not in box
    assert message_id(1, "local") in box and message_id(1, "server") in box
    assert local["INBOX"][message_id(1, "server")] == {"\\Seen"}
    assert message_id(3150) in server[FOLDER] and message_id(4150) in server["Archive"]
    assert server[NEW_FOLDER] == {message_id(0, "contract"): frozenset()}

    # a third run only creates the superior 客户 locally; then every folder is on both sides
    timings["third sync"] = mbsync(mbsync_bin, rc)
    assert diff(imap_snapshot(srv.imaps, srv.user, srv.password, srv.cafile),
                local_snapshot(maildir)) == []

    # Chinese search end to end: the server's full-text index agrees with the local files
    with IMAPClient("127.0.0.1", srv.imaps, ssl=True, ssl_context=_tls(srv)) as c:
        c.login(srv.user, srv.password)
        c.select_folder(FOLDER, readonly=True)
        found = c.search(["TEXT", "发票"], charset="UTF-8")
        local_hits = sum(1 for sub in ("cur", "new") for p in (invoices / sub).iterdir()
                         if "发票".encode() in p.read_bytes())
        moved_in = sum(1 for i in range(3150, 3170) if "发票" in SUBJECTS[i % len(SUBJECTS)])
        assert len(found) == local_hits == INVOICES + moved_in
        c.select_folder(NEW_FOLDER, readonly=True)
        assert len(c.search(["SUBJECT", "发票"], charset="UTF-8")) == 1
    print("mbsync timings (s):", {k: round(v, 1) for k, v in timings.items()})


def _tls(srv: ImapServer) -> ssl.SSLContext:
    return client_tls(srv.cafile)
