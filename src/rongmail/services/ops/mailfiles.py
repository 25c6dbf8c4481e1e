"""Reading and writing mail files: mbox (mboxrd), Maildir (and Maildir++ folders), and trees of
``.eml`` files (one message per file; sub-folders become mailboxes).

Readers yield :class:`SourceMessage` lazily (constant memory on huge mboxes). Folder names that
are not valid UTF-8 are decoded with replacement characters (the message bytes are untouched).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rongmail.core import flags as fl
from rongmail.errors import ValidationError

MAILDIR_FLAGS = {"S": fl.SEEN, "R": fl.ANSWERED, "F": fl.FLAGGED, "T": fl.DELETED,
                 "D": fl.DRAFT, "P": fl.FORWARDED}
_FROM_QUOTED = re.compile(rb"^>+From ")


@dataclass(frozen=True, slots=True)
class SourceMessage:
    folder: str  # "" = the target mailbox itself; "a/b" = sub-folder path
    raw: bytes
    flags: int = 0
    received_at: int | None = None


def _name(p: str | bytes) -> str:
    b = os.fsencode(p)
    return b.decode("utf-8", "replace")


def detect_format(path: Path) -> str:
    if path.is_file():
        return "mbox"
    if (path / "cur").is_dir() or (path / "new").is_dir():
        return "maildir"
    if path.is_dir():
        return "eml"
    raise ValidationError("import.no_source", path=str(path))


def count(path: Path, fmt: str) -> int | None:
    """Number of messages, for the progress bar (None when unknown without reading all)."""
    if fmt == "mbox":
        return None
    n = 0
    for root, _dirs, files in os.walk(path):
        if fmt == "maildir" and os.path.basename(root) not in ("cur", "new"):
            continue
        n += sum(1 for f in files if not f.startswith("."))
    return n


def read_mbox(path: Path) -> Iterator[SourceMessage]:
    """mboxrd/mboxo: messages start at lines beginning ``From ``; ``>From`` is unquoted."""
    buf: list[bytes] = []
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"From "):
                if buf:
                    yield SourceMessage("", _mbox_body(buf))
                buf = []
                continue
            buf.append(_FROM_QUOTED.sub(lambda m: m.group(0)[1:], line))
    if buf:
        yield SourceMessage("", _mbox_body(buf))


def _mbox_body(lines: list[bytes]) -> bytes:
    data = b"".join(lines)
    if data.endswith(b"\n\n"):
        data = data[:-1]
    return data


def read_maildir(path: Path) -> Iterator[SourceMessage]:
    """Maildir with Maildir++ sub-folders (``.Sub.Folder`` -> ``Sub/Folder``)."""
    folders = [("", path)]
    for entry in sorted(os.listdir(path)):
        if entry.startswith(".") and (path / entry / "cur").is_dir():
            folders.append((_name(entry[1:]).replace(".", "/"), path / entry))
    for folder, d in folders:
        for sub in ("new", "cur"):
            base = d / sub
            if not base.is_dir():
                continue
            for fn in sorted(os.listdir(base)):
                if fn.startswith("."):
                    continue
                p = base / fn
                flags = 0
                info = fn.rsplit(":2,", 1)
                if len(info) == 2:
                    for ch in info[1]:
                        flags |= MAILDIR_FLAGS.get(ch, 0)
                yield SourceMessage(folder, p.read_bytes(), flags, int(p.stat().st_mtime))


def read_eml_tree(path: Path) -> Iterator[SourceMessage]:
    for root, dirs, files in os.walk(path):
        dirs.sort()
        rel = os.path.relpath(root, path)
        folder = "" if rel == "." else _name(rel).replace(os.sep, "/")
        for fn in sorted(files):
            if fn.startswith("."):
                continue
            p = Path(root) / fn
            if p.is_file():
                yield SourceMessage(folder, p.read_bytes(), 0, int(p.stat().st_mtime))


def read_source(path: Path, fmt: str) -> Iterator[SourceMessage]:
    return {"mbox": read_mbox, "maildir": read_maildir, "eml": read_eml_tree}[fmt](path)


def mbox_quote(raw: bytes) -> bytes:
    """mboxrd quoting: prefix ``>`` to lines matching ``^>*From ``."""
    out = []
    for line in raw.splitlines(keepends=True):
        if re.match(rb"^>*From ", line):
            line = b">" + line
        out.append(line)
    data = b"".join(out)
    if not data.endswith(b"\n"):
        data += b"\n"
    return data


def maildir_flags(bits: int) -> str:
    return "".join(sorted(ch for ch, b in MAILDIR_FLAGS.items() if bits & b))
