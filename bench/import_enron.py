"""Benchmark: bulk import of the Enron inbox corpus (44,757 messages), RongMail vs Dovecot.

RongMail: ``rongmail init`` a temp data dir, add an account, time
``rongmail import <maildir-tree> --keep-folders`` (one process, every message, one mailbox per
source folder). Peer: the same tree turned into a real Maildir (``LAYOUT=fs``: ``<folder>/cur``
with hard links, so no bytes are copied), then ``doveadm import`` of every folder into a private
Dovecot instance storing ``mdbox`` (tests/peers/dovecot.py). Both sides are timed as whole
commands (wall clock, process start included); RongMail's own figure (``IMPORT_STATS``) is shown
too. The unpacking and the Maildir conversion are not timed.

Usage: ``python bench/import_enron.py [--runs 3] [--quick] [--backend sqlite|postgres]``.
``--quick`` imports only the first users' folders (about 5,000 messages), once.
Exit status: 0 on success (whatever the figures), 2 on harness errors.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    HarnessError,
    RongMail,
    extract,
    fmt,
    median,
    ratio,
    shared_data,
    table,
)

EXPECTED_FULL = 44_757
PG_DSN = os.environ.get("RONGMAIL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def message_files(tree: Path) -> list[Path]:
    return [Path(r) / f for r, _d, files in os.walk(tree) for f in files
            if not f.startswith(".")]  # fmt: skip


def subset(tree: Path, dest: Path, limit: int) -> Path:
    """Copy (hard-link) whole user folders of ``tree`` until about ``limit`` messages."""
    n = 0
    for user in sorted(p for p in tree.iterdir() if p.is_dir()):
        if n >= limit:
            break
        for f in message_files(user):
            rel = f.relative_to(tree)
            (dest / rel.parent).mkdir(parents=True, exist_ok=True)
            os.link(f, dest / rel)
            n += 1
    return dest


def to_maildir(tree: Path, dest: Path) -> int:
    """CMU tree (``user/inbox/sub/N``) → Maildir LAYOUT=fs (``user/inbox/sub/cur/N:2,``)."""
    n = 0
    for f in message_files(tree):
        rel = f.relative_to(tree)
        cur = dest / rel.parent / "cur"
        cur.mkdir(parents=True, exist_ok=True)
        for d in ("new", "tmp"):
            (dest / rel.parent / d).mkdir(exist_ok=True)
        os.link(f, cur / f"{1000000 + n}.{rel.name}.enron:2,")
        n += 1
    return n


def run_rongmail(tree: Path, backend: str, tmpbase: Path) -> dict[str, float]:
    from benchlib import REPO

    dsn = None
    env: dict[str, str] = {}
    if backend == "postgres":
        import uuid
        dsn = PG_DSN
        # a fresh schema per run, like tests/conftest.py
        env = {"RONGMAIL_STORAGE__POSTGRES_SCHEMA": f"rmbench_{uuid.uuid4().hex[:10]}"}
    with RongMail(backend=backend, postgres_dsn=dsn, base=tmpbase, env=env) as rm:
        rm.init()
        t0 = time.monotonic()
        proc = rm.cli("import", str(tree), "--account", rm.address, "--keep-folders",
                      "--no-progress", env={"RONGMAIL_IMPORT_STATS": "1", **env},
                      timeout=7200, check=False)  # fmt: skip
        wall = time.monotonic() - t0
        m = re.search(r"IMPORT_STATS messages=(\d+) failed=(\d+) seconds=([\d.]+)", proc.stdout)
        if proc.returncode != 0 and not m:
            raise HarnessError(f"rongmail import failed ({proc.returncode}): {proc.stderr[-800:]}")
        imported = int(m.group(1)) if m else -1
        failed = int(m.group(2)) if m else -1
        inner = float(m.group(3)) if m else float("nan")
        _ = REPO
        if backend == "postgres":
            drop_schema(env["RONGMAIL_STORAGE__POSTGRES_SCHEMA"])
        return {"messages": imported, "failed": failed, "wall": wall, "inner": inner}


def drop_schema(schema: str) -> None:
    import asyncio

    import asyncpg

    async def go() -> None:
        con = await asyncpg.connect(PG_DSN)
        try:
            await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await con.close()

    asyncio.run(go())


def run_dovecot(maildir: Path, expected: int) -> dict[str, float]:
    from peers.dovecot import DovecotServer

    user = "bench@peer.test"
    with DovecotServer(address="127.0.0.42", users={user: "secret"}) as dv:
        t0 = time.monotonic()
        dv.import_maildir(user, maildir, timeout=7200)
        wall = time.monotonic() - t0
        got = dv.count(user, "*")
        return {"messages": got, "failed": expected - got, "wall": wall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="~5,000 messages, one run")
    ap.add_argument("--limit", type=int, default=0, help="import about this many messages")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--shared-data")
    args = ap.parse_args()
    runs = 1 if args.quick else args.runs
    limit = args.limit or (5000 if args.quick else 0)

    data = shared_data(args.shared_data)
    archive = data / "enron_inbox_maildir" / "enron_inbox_maildir.tar.zst"
    tmpbase = Path(tempfile.mkdtemp(prefix="rongmail-bench-import-", dir="/tmp"))
    tmpbase.chmod(0o755)
    try:
        print(f"unpacking {archive.name} ...", flush=True)
        extract(archive, tmpbase / "src")
        tree = tmpbase / "src" / "enron_inbox_maildir" / "maildir"
        if limit:
            tree = subset(tree, tmpbase / "subset", limit)
        total = len(message_files(tree))
        if not limit and total != EXPECTED_FULL:
            print(f"warning: corpus holds {total} messages, expected {EXPECTED_FULL}")
        print(f"{total} messages in {sum(1 for _ in tree.rglob('*') if _.is_dir())} folders; "
              f"{runs} run(s); backend {args.backend}", flush=True)
        rm_runs: list[dict[str, float]] = []
        dv_runs: list[dict[str, float]] = []
        for i in range(runs):
            r = run_rongmail(tree, args.backend, tmpbase)
            rm_runs.append(r)
            print(f"run {i + 1}: RongMail {r['messages']:.0f} msgs (failed {r['failed']:.0f}) "
                  f"in {r['wall']:.1f}s wall / {r['inner']:.1f}s import loop = "
                  f"{r['messages'] / r['wall']:.0f} msg/s", flush=True)
            if not args.no_peer:
                md = tmpbase / f"maildir{i}"
                to_maildir(tree, md)
                d = run_dovecot(md, total)
                dv_runs.append(d)
                shutil.rmtree(md, ignore_errors=True)
                print(f"run {i + 1}: Dovecot  {d['messages']:.0f} msgs in {d['wall']:.1f}s = "
                      f"{d['messages'] / d['wall']:.0f} msg/s", flush=True)
        rm_rate = median(r["messages"] / r["wall"] for r in rm_runs)
        rm_inner = median(r["messages"] / r["inner"] for r in rm_runs)
        rows = [["RongMail import (" + args.backend + ")", f"{rm_runs[0]['messages']:.0f}",
                 fmt(median(r["wall"] for r in rm_runs)), fmt(rm_rate, ".0f"),
                 f"loop only: {rm_inner:.0f} msg/s"]]
        dv_rate = float("nan")
        if dv_runs:
            dv_rate = median(d["messages"] / d["wall"] for d in dv_runs)
            rows.append(["Dovecot doveadm import (mdbox)", f"{dv_runs[0]['messages']:.0f}",
                         fmt(median(d["wall"] for d in dv_runs)), fmt(dv_rate, ".0f"), ""])
        print()
        print(f"== import_enron summary (median of {runs} run(s), {total} messages) ==")
        print(table(["system", "messages", "seconds", "msg/s", "note"], rows))
        print(f"ratio RongMail/Dovecot (msg/s): {ratio(rm_rate, dv_rate)}")
        bad = [r for r in rm_runs if r["messages"] != total]
        if bad:
            print(f"NOTE: RongMail imported {bad[0]['messages']:.0f} of {total} messages")
        return 0
    finally:
        if not os.environ.get("RONGMAIL_KEEP_PEERS"):
            shutil.rmtree(tmpbase, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as e:
        print(f"harness error: {e}", file=sys.stderr)
        sys.exit(2)
