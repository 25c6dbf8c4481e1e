"""Helpers for the IMAP end-to-end tests with real clients (mbsync, offlineimap, neomutt).

* :class:`ImapServer`: the ``rongmail serve`` under test with its account and certificate.
* Generate realistic mail (Chinese and English subjects, some about 发票) and write it as mbox
  for ``rongmail import``.
* Take *snapshots* of both sides: folder -> {Message-ID: flags}, read from the server over
  IMAPS with ``imapclient`` and from a local Maildir tree, so a test can say "both sides
  equal" in one assertion.
* Drive an interactive program in a private tmux server (``send-keys`` / ``capture-pane``),
  every wait bounded.

Imported by name from the test modules (pytest puts this directory on ``sys.path``).
"""

from __future__ import annotations

import email.utils
import os
import re
import ssl
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.header import Header
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

if TYPE_CHECKING:
    from e2e.conftest import RunningServer

Snapshot = dict[str, dict[str, frozenset[str]]]

#: Maildir info letters (https://cr.yp.to/proto/maildir.html) and the IMAP flags they mean.
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                 "T": "\\Deleted"}
IMAP_FLAGS = set(MAILDIR_FLAGS.values())

SUBJECTS = ("季度报告 {i}", "Weekly sync {i}", "关于发票的通知 {i}", "Re: budget {i}",
            "会议纪要 {i}", "Invoice reminder {i}")


def message_id(i: int, tag: str = "gen") -> str:
    return f"<{tag}-{i}@corp.test>"


def make_message(i: int, *, tag: str = "gen", subject: str | None = None,
                 body: str | None = None, to: str = "zhang@corp.test") -> bytes:
    """A small RFC 5322 message with a unique Message-ID (2-3 KB, UTF-8 8bit body)."""
    subj = subject or SUBJECTS[i % len(SUBJECTS)].format(i=i)
    text = body or (
        f"第 {i} 封测试邮件。请查收附件中的报价单。\n" + "Lorem ipsum dolor sit amet. " * 60
    )
    if "发票" in subj and body is None:
        text = f"您好，附件是本月的增值税发票（编号 {i}）。\n" + text
    date = email.utils.formatdate(1_767_225_600 + i * 60, localtime=False)
    head = (
        f"From: Wang Wu <wangwu@example.com>\r\nTo: {to}\r\n"
        f"Subject: {Header(subj, 'utf-8').encode()}\r\n"
        f"Message-ID: {message_id(i, tag)}\r\nDate: {date}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + text.replace("\n", "\r\n").encode()


def write_mbox(path: Path, messages: Iterable[bytes]) -> Path:
    """mboxrd (RFC 4155) with ``From `` quoting; line ends as LF like a Unix mbox."""
    with path.open("wb") as f:
        for raw in messages:
            body = raw.replace(b"\r\n", b"\n")
            body = re.sub(rb"(?m)^(>*From )", rb">\1", body)
            f.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n" + body + b"\n\n")
    return path


# -- the server under test ----------------------------------------------------------------

@dataclass
class ImapServer:
    """The running server plus one mail account on it."""

    srv: RunningServer
    user: str
    password: str

    @property
    def imaps(self) -> int:
        return self.srv.ports["imaps"]

    @property
    def cafile(self) -> Path:
        return self.srv.data_dir / "tls" / "cert.pem"

    def import_mbox(self, path: Path, mailbox: str = "INBOX") -> None:
        self.srv.cli("import", str(path), "--account", self.user, "--mailbox", mailbox,
                     "--no-progress")


# -- snapshots ------------------------------------------------------------------------------

def client_tls(cafile: Path) -> ssl.SSLContext:
    """Verify the server's self-signed certificate (its SAN holds 127.0.0.1)."""
    return ssl.create_default_context(cafile=str(cafile))


def imap_snapshot(port: int, user: str, password: str, cafile: Path,
                  *, skip: Iterable[str] = ()) -> Snapshot:
    """folder -> {Message-ID: IMAP system flags} as the server sees them, over IMAPS."""
    out: Snapshot = {}
    skipped = set(skip)
    with IMAPClient("127.0.0.1", port, ssl=True, ssl_context=client_tls(cafile),
                    timeout=60) as c:
        c.login(user, password)
        for flags, _sep, name in c.list_folders():
            if b"\\Noselect" in flags or name in skipped or name.startswith("Other Users"):
                continue
            c.select_folder(name, readonly=True)
            got = fetch_all(c, "FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
            box: dict[str, frozenset[str]] = {}
            for data in got.values():
                header = data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode("ascii", "replace")
                mid = header.split(":", 1)[1].strip() if ":" in header else ""
                box[mid] = frozenset(f.decode() for f in data[b"FLAGS"]) & IMAP_FLAGS
            out[name] = box
    return out


def fetch_all(c: IMAPClient, items: str) -> dict[int, dict[bytes, Any]]:
    """``UID FETCH 1:* (items)`` by UID (imapclient 3 drops the answers to a ``1:*`` set)."""
    if not c.search("ALL"):
        return {}
    typ, data = c._imap.uid("FETCH", "1:*", f"({items})")
    assert typ == "OK", data
    return parse_fetch_response(data, True, True)  # type: ignore[no-any-return]


def uids_by_message_id(c: IMAPClient) -> dict[str, int]:
    """Message-ID -> UID in the selected mailbox."""
    out = {}
    for uid, data in fetch_all(c, "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]").items():
        header = data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode("ascii", "replace")
        out[header.split(":", 1)[1].strip() if ":" in header else ""] = uid
    return out


def _header_message_id(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(8192).split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"(?im)^message-id:\s*(\S+)", head)
    return m.group(1).decode() if m else ""


def maildir_flags(name: str, sep: str = ":") -> frozenset[str]:
    info = name.rpartition(f"{sep}2,")[2] if f"{sep}2," in name else ""
    return frozenset(MAILDIR_FLAGS[ch] for ch in info if ch in MAILDIR_FLAGS)


def maildir_messages(folder: Path, sep: str = ":") -> dict[str, frozenset[str]]:
    box: dict[str, frozenset[str]] = {}
    for sub in ("cur", "new"):
        d = folder / sub
        if d.is_dir():
            for p in d.iterdir():
                box[_header_message_id(p)] = maildir_flags(p.name, sep)
    return box


def maildir_folders(root: Path) -> Iterator[tuple[str, Path]]:
    """(IMAP name, path) of every Maildir under ``root`` with ``/`` as the hierarchy."""
    for cur in sorted(root.rglob("cur")):
        folder = cur.parent
        yield folder.relative_to(root).as_posix(), folder


def maildir_snapshot(root: Path, sep: str = ":") -> Snapshot:
    return {name: maildir_messages(path, sep) for name, path in maildir_folders(root)}


def diff(a: Snapshot, b: Snapshot, *, empty_folders: bool = True) -> list[str]:
    """Human-readable differences (empty when equal), bounded to the first 20.

    ``empty_folders=False`` ignores an empty folder present on one side only (a superior the
    server created for a new child, RFC 9051 §6.3.4, reaches the other side one sync later).
    """
    out = []
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name), b.get(name)
        if x is None or y is None:
            if not empty_folders and not (x or y):
                continue
            out.append(f"folder {name!r} only on {'right' if x is None else 'left'}")
            continue
        for mid in sorted(set(x) | set(y)):
            if x.get(mid) != y.get(mid):
                out.append(f"{name}: {mid}: {sorted(x.get(mid) or ['-'])} != "
                           f"{sorted(y.get(mid) or ['-'])}")
    return out[:20]


def set_maildir_flags(path: Path, flags: str, sep: str = ":") -> Path:
    """Rename a Maildir message to carry exactly ``flags`` (info letters, e.g. ``"FS"``);
    messages in ``new/`` move to ``cur/`` as a MUA does when it changes flags."""
    base = path.name.split(f"{sep}2,")[0]
    target = path.parent.parent / "cur" / f"{base}{sep}2,{''.join(sorted(flags))}"
    path.rename(target)
    return target


def deliver_to_maildir(folder: Path, raw: bytes, unique: str) -> Path:
    """Write a new message into a Maildir the way an MDA does (tmp/ then new/)."""
    tmp = folder / "tmp" / unique
    tmp.write_bytes(raw)
    new = folder / "new" / unique
    os.rename(tmp, new)
    return new


# -- tmux -----------------------------------------------------------------------------------

class Tmux:
    """A private tmux server (its own socket) running one program in a fixed-size pane."""

    def __init__(self, socket: Path, *, width: int = 160, height: int = 48) -> None:
        self.socket = socket
        self.width, self.height = width, height

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True,
                              text=True, timeout=20, check=True)
        return proc.stdout

    def start(self, command: list[str], env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={_sh(v)}" for k, v in env.items())
        self._tmux("new-session", "-d", "-s", "t", "-x", str(self.width), "-y", str(self.height),
                   f"env {exports} " + " ".join(_sh(a) for a in command))

    def send(self, *keys: str, literal: bool = False) -> None:
        self._tmux("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t", "-J")

    def wait_for(self, pattern: str, *, timeout: float = 20.0, flags: int = 0) -> str:
        """Wait until the screen matches ``pattern`` (regex); return the screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen, flags):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {pattern!r}; screen:\n{screen}")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-S", str(self.socket), "has-session", "-t", "t"],
                              capture_output=True, timeout=10).returncode == 0

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True,
                       timeout=10)


def _sh(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"
