"""``rongmail import`` / ``rongmail export``: mbox, Maildir and .eml folders, with progress."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from rongmail.cli.common import add_data_dir, data_path, run, say

BATCH = 256


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("import", help="import mail (mbox file, Maildir, or a folder of .eml)")
    add_data_dir(p)
    p.add_argument("source", type=Path)
    p.add_argument("--account", required=True, help="target account address")
    p.add_argument("--mailbox", default="INBOX", help="target mailbox (default INBOX)")
    p.add_argument("--format", choices=["auto", "mbox", "maildir", "eml"], default="auto")
    p.add_argument("--keep-folders", action="store_true",
                   help="recreate sub-folders of the source as mailboxes under the target")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="export an account's mail")
    add_data_dir(p)
    p.add_argument("dest", type=Path)
    p.add_argument("--account", required=True)
    p.add_argument("--mailbox", help="only this mailbox (default: all)")
    p.add_argument("--format", choices=["mbox", "maildir", "eml"], default="mbox")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_export)


async def ensure_path(app: Any, account_id: int, path: str) -> int:
    """Mailbox id for ``a/b/c`` under the account, creating missing levels."""
    from rongmail.actions.mailboxes import do_create_mailbox
    from rongmail.errors import AlreadyExists

    boxes = await app.reader.mailboxes(account_id)
    parent = 0
    for part in [p for p in path.split("/") if p]:
        if parent == 0 and part.upper() == "INBOX":
            parent = next(b.id for b in boxes if b.role == "inbox")
            continue
        found = next((b for b in boxes if b.parent_id == parent and b.name == part), None)
        if found is None:
            try:
                found = await do_create_mailbox(app.ctx, account_id, part, parent_id=parent)
            except AlreadyExists:
                boxes = await app.reader.mailboxes(account_id)
                found = next(b for b in boxes if b.parent_id == parent and b.name == part)
            boxes.append(found)
        parent = found.id
    return parent


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rongmail.actions.importing import (
        ImportItem,
        commit_import_batch,
        prepare_import_batch,
    )
    from rongmail.app import open_app
    from rongmail.core.address import normalize_address
    from rongmail.errors import NotFound
    from rongmail.services.ops import mailfiles as mf

    src: Path = args.source

    async def go() -> int:
        fmt = mf.detect_format(src) if args.format == "auto" else args.format
        app = await open_app(data_path(args))
        try:
            acct = await app.reader.account_by_address(normalize_address(args.account))
            if acct is None:
                raise NotFound("user.unknown", email=args.account)
            base = args.mailbox.strip("/")
            cache: dict[str, int] = {}
            total = mf.count(src, fmt)
            bar = tqdm(total=total, unit="msg", disable=args.no_progress, file=sys.stderr)
            started = time.monotonic()
            imported = failed = 0
            batch: list[ImportItem] = []
            # pipeline: batch N+1 is read and prepared (parse, index, blobs) while batch N
            # commits; at most one prepare and one commit are in flight
            committing: asyncio.Future[Any] | None = None

            async def flush(items: list[ImportItem]) -> None:
                nonlocal committing, imported, failed
                prep = asyncio.ensure_future(prepare_import_batch(app.ctx, acct.id, items))
                if committing is not None:
                    rep = await committing
                    committing = None
                    imported += rep.imported
                    failed += rep.failed
                    bar.update(rep.imported + rep.failed)
                committing = asyncio.ensure_future(commit_import_batch(app.ctx, await prep))

            for sm in mf.read_source(src, fmt):
                folder = base if not (args.keep_folders and sm.folder) else f"{base}/{sm.folder}"
                if folder not in cache:
                    cache[folder] = await ensure_path(app, acct.id, folder)
                batch.append(ImportItem(cache[folder], sm.raw, sm.flags,
                                        received_at=sm.received_at if fmt == "maildir" else None))
                if len(batch) >= BATCH:
                    await flush(batch)
                    batch = []
            if batch:
                await flush(batch)
            if committing is not None:
                rep = await committing
                imported += rep.imported
                failed += rep.failed
                bar.update(rep.imported + rep.failed)
            bar.close()
            secs = time.monotonic() - started
            say("cli.import.done", count=imported, failed=failed, seconds=f"{secs:.1f}")
            if os.environ.get("RONGMAIL_IMPORT_STATS"):
                print(f"IMPORT_STATS messages={imported} failed={failed} seconds={secs:.3f}")
        finally:
            await app.close()
        return 0 if failed == 0 else 1

    return run(go)


def cmd_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rongmail.app import open_app
    from rongmail.core.address import normalize_address
    from rongmail.errors import NotFound
    from rongmail.services.ops import mailfiles as mf

    dest: Path = args.dest

    async def go() -> int:
        app = await open_app(data_path(args))
        try:
            acct = await app.reader.account_by_address(normalize_address(args.account))
            if acct is None:
                raise NotFound("user.unknown", email=args.account)
            boxes = await app.reader.mailboxes(acct.id)
            by_id = {b.id: b for b in boxes}

            def path_of(b: Any) -> str:
                parts = [b.name]
                while b.parent_id and b.parent_id in by_id:
                    b = by_id[b.parent_id]
                    parts.append(b.name)
                return "/".join(reversed(parts))

            chosen = [b for b in boxes if not args.mailbox or path_of(b) == args.mailbox]
            if not chosen:
                raise NotFound(what=args.mailbox)
            entries = {b.id: await app.reader.mailbox_entries(b.id) for b in chosen}
            total = sum(len(v) for v in entries.values())
            bar = tqdm(total=total, unit="msg", disable=args.no_progress, file=sys.stderr)
            count = 0
            mbox = None
            if args.format == "mbox":
                dest.parent.mkdir(parents=True, exist_ok=True)
                mbox = open(dest, "wb")  # noqa: SIM115
            try:
                for b in chosen:
                    for e in entries[b.id]:
                        msgs = await app.reader.messages(acct.id, [e.message_id])
                        if not msgs:
                            continue
                        raw = await app.reader.message_bytes(acct.tenant_id, msgs[0].blob_id)
                        if mbox is not None:
                            stamp = time.strftime("%a %b %d %H:%M:%S %Y",
                                                  time.gmtime(e.received_at))
                            mbox.write(f"From MAILER-DAEMON {stamp}\n".encode())
                            mbox.write(mf.mbox_quote(raw.replace(b"\r\n", b"\n")) + b"\n")
                        elif args.format == "maildir":
                            sub = "" if b.role == "inbox" else "." + path_of(b).replace("/", ".")
                            root = dest / sub if sub else dest
                            for d in ("cur", "new", "tmp"):
                                (root / d).mkdir(parents=True, exist_ok=True)
                            name = f"{e.received_at}.{e.uid}.rongmail:2,{mf.maildir_flags(e.flags)}"
                            (root / "cur" / name).write_bytes(raw)
                        else:
                            folder = dest / path_of(b)
                            folder.mkdir(parents=True, exist_ok=True)
                            (folder / f"{e.uid}.eml").write_bytes(raw)
                        count += 1
                        bar.update(1)
            finally:
                if mbox is not None:
                    mbox.close()
                bar.close()
            say("cli.export.done", count=count, path=str(dest))
        finally:
            await app.close()
        return 0

    return run(go)
