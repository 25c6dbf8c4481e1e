"""Benchmark: substring search in a 10,000-message mailbox (issue 2 §7, issue 4 §2).

The mailbox is built at run time from ``../shared/data`` (nothing from the corpora is stored in
the repository or printed): half Chinese messages (``trec06c_subset``, raw GB2312/GBK MIME), half
English (``enron_inbox_maildir``), interleaved, each tagged with an ``X-Bench-Id`` header.

* RongMail: the messages are stored with the bulk-import action, then ``Reader.search_text``
  (``store/reader.py``) is timed for a fixed set of Chinese and English substring queries, on
  SQLite (FTS5) and on PostgreSQL (127.0.0.1:5432, a fresh schema, dropped afterwards).
* Reference: a brute-force substring scan over the same decoded fields RongMail indexes
  (subject, from/sender, to, cc, bcc, text body, attachment names; NFKC + casefold) gives the
  expected hits: recall = found ∩ expected / expected (goal 100%).
* Peer: the same messages imported into a private Dovecot (mdbox, stock Debian config, no FTS
  plugin) and searched with IMAP ``UID SEARCH CHARSET UTF-8 TEXT <q>`` on one selected
  connection; its recall against the same reference is shown too (Dovecot's TEXT also searches
  every header, so it may find more).

Usage: ``python bench/search.py [--messages 10000] [--rounds 5] [--quick] [--no-postgres]
[--no-peer]``. Exit status 0 unless the harness fails (2).
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import os
import shutil
import sys
import tempfile
import time
import unicodedata
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    HarnessError,
    RongMail,
    extract,
    fmt,
    median,
    percentile,
    ratio,
    shared_data,
    table,
)

# Common words, not taken from any message. Single characters and word-internal fragments
# exercise substring (not word) semantics.
QUERIES_ZH = ["发票", "会议", "公司", "合同", "报价", "价格", "北京", "学校", "朋友", "工作",
              "培训", "电话", "问题", "时间", "中国", "邮件", "老师", "联系", "税", "考试"]
QUERIES_EN = ["energy", "meeting", "enron", "california", "power", "price", "contract",
              "schedule", "report", "gas", "thanks", "conference", "deal", "market", "ergy",
              "ednesda", "invoice", "houston", "q", "2001"]
PG_DSN = os.environ.get("RONGMAIL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
FIELDS = ("subject", "from_", "to_", "cc", "bcc", "body", "attachments")


def norm(s: str) -> str:
    return unicodedata.normalize("NFKC", s).casefold()


# -- corpus --------------------------------------------------------------------------------------
def build_corpus(data: Path, tmp: Path, n: int) -> list[bytes]:
    zh_root = extract(data / "trec06c_subset" / "trec06c_subset_shared.tar.zst", tmp / "zh")
    en_root = extract(data / "enron_inbox_maildir" / "enron_inbox_maildir.tar.zst", tmp / "en")
    zh = sorted(p for p in (zh_root / "trec06c_subset_shared" / "data").rglob("*") if p.is_file())
    en = sorted(p for p in (en_root / "enron_inbox_maildir" / "maildir").rglob("*")
                if p.is_file())  # fmt: skip
    half = n // 2
    if len(zh) < half or len(en) < n - half:
        raise HarnessError(f"corpora too small: {len(zh)} zh, {len(en)} en")
    zh = zh[:: max(1, len(zh) // half)][:half]
    en = en[:: max(1, len(en) // (n - half))][: n - half]
    out: list[bytes] = []
    for i in range(n):
        src = (zh if i % 2 == 0 else en)[i // 2]
        raw = src.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        out.append(b"X-Bench-Id: %d\r\n" % i + raw)
    shutil.rmtree(tmp / "zh", ignore_errors=True)
    shutil.rmtree(tmp / "en", ignore_errors=True)
    return out


def reference_fields(raws: list[bytes]) -> list[list[str]]:
    from rongmail.mime.parse import parse_message

    def addrs(a: list[Any]) -> str:
        return " ".join(f"{x.name} {x.email}" for x in a)

    out = []
    for raw in raws:
        p = parse_message(raw)
        out.append([norm(x) for x in (
            p.subject, addrs(p.from_ + p.sender), addrs(p.to), addrs(p.cc), addrs(p.bcc),
            p.text_body, " ".join(a.filename or "" for a in p.attachments))])  # fmt: skip
    return out


def expected_hits(fields: list[list[str]], q: str) -> set[int]:
    nq = norm(q)
    return {i for i, fs in enumerate(fields) if any(nq in f for f in fs)}


# -- RongMail ------------------------------------------------------------------------------------
async def rongmail_search(raws: list[bytes], backend: str, queries: list[str], rounds: int,
                          tmpbase: Path) -> dict[str, Any]:
    from rongmail.actions.importing import ImportItem, do_import_batch
    from rongmail.app import open_app

    env: dict[str, str] = {}
    schema = ""
    if backend == "postgres":
        schema = f"rmbench_{uuid.uuid4().hex[:10]}"
        env = {"RONGMAIL_STORAGE__POSTGRES_SCHEMA": schema}
    rm = RongMail(backend=backend, postgres_dsn=PG_DSN if backend == "postgres" else None,
                  base=tmpbase, env=env)  # fmt: skip
    os.environ.update(env)
    app = None
    try:
        rm.init()
        app = await open_app(rm.data_dir)
        acct = await app.reader.account_by_address(rm.address)
        assert acct is not None
        inbox = next(b for b in await app.reader.mailboxes(acct.id) if b.role == "inbox")
        t0 = time.monotonic()
        for i in range(0, len(raws), 500):
            rep = await do_import_batch(app.ctx, acct.id,
                                        [ImportItem(inbox.id, r) for r in raws[i:i + 500]])
            if rep.failed:
                raise HarnessError(f"{rep.failed} messages failed to store: {rep.errors}")
        load_s = time.monotonic() - t0
        entries = await app.reader.mailbox_entries(inbox.id)
        by_msg = {e.message_id: k for k, e in enumerate(sorted(entries, key=lambda e: e.uid))}
        await app.reader.search_text(acct.id, "warmup", mailbox_id=inbox.id)
        lat: dict[str, list[float]] = {q: [] for q in queries}
        found: dict[str, set[int]] = {}
        for _ in range(rounds):
            for q in queries:
                t = time.perf_counter()
                ids = await app.reader.search_text(acct.id, q, mailbox_id=inbox.id)
                lat[q].append((time.perf_counter() - t) * 1000)
                found[q] = {by_msg[m] for m in (ids or []) if m in by_msg}
        return {"lat": lat, "found": found, "load_s": load_s}
    finally:
        if app is not None:
            if backend == "postgres":
                drop = getattr(app.ctx.meta, "drop_schema", None)
                if drop is not None:
                    await drop()
            await app.close()
        for k in env:
            os.environ.pop(k, None)
        rm.cleanup()


# -- Dovecot -------------------------------------------------------------------------------------
def dovecot_search(raws: list[bytes], queries: list[str], rounds: int,
                   tmpbase: Path) -> dict[str, Any]:
    from peers.dovecot import DovecotServer

    user, pw = "bench@peer.test", "secret"
    src = tmpbase / "dovecot-src"
    for d in ("cur", "new", "tmp"):
        (src / d).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(raws):
        (src / "cur" / f"{1_000_000 + i}.bench{i}:2,").write_bytes(raw)
    with DovecotServer(address="127.0.0.43", users={user: pw}) as dv:
        t0 = time.monotonic()
        dv.import_maildir(user, src, layout_fs=False)
        load_s = time.monotonic() - t0
        im = imaplib.IMAP4(dv.address, dv.imap_port)
        im._encoding = "utf-8"  # type: ignore[attr-defined]
        im.login(user, pw)
        im.select("INBOX")
        typ, data = im.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (X-Bench-Id)])")
        uid_map: dict[int, int] = {}
        for item in data:
            if isinstance(item, tuple):
                head = item[0].decode()
                uid = int(head.split("UID ", 1)[1].split()[0].rstrip(")"))
                val = item[1].decode().split(":", 1)[1].strip()
                uid_map[uid] = int(val)
        lat: dict[str, list[float]] = {q: [] for q in queries}
        found: dict[str, set[int]] = {}
        for _ in range(rounds):
            for q in queries:
                lit = q.encode()
                im.literal = lit  # type: ignore[attr-defined]
                t = time.perf_counter()
                typ, data = im.uid("SEARCH", "CHARSET", "UTF-8", "TEXT")
                lat[q].append((time.perf_counter() - t) * 1000)
                if typ != "OK":
                    raise HarnessError(f"dovecot SEARCH {q!r}: {typ} {data}")
                uids = [int(x) for x in (data[0] or b"").split()]
                found[q] = {uid_map[u] for u in uids if u in uid_map}
        im.logout()
        return {"lat": lat, "found": found, "load_s": load_s}


# -- report --------------------------------------------------------------------------------------
def summarize(name: str, res: dict[str, Any], expected: dict[str, set[int]],
              queries: list[str]) -> tuple[list[object], dict[str, float]]:
    all_lat = [x for q in queries for x in res["lat"][q]]
    zh = [x for q in queries if q in QUERIES_ZH for x in res["lat"][q]]
    en = [x for q in queries if q in QUERIES_EN for x in res["lat"][q]]
    exp = sum(len(expected[q]) for q in queries)
    hit = sum(len(expected[q] & res["found"][q]) for q in queries)
    recall = 100.0 * hit / exp if exp else 100.0
    missed_hits = exp - hit
    missing = [f"{q}({len(expected[q] - res['found'][q])})" for q in queries
               if expected[q] - res["found"][q]]
    p50, p95 = percentile(all_lat, 50), percentile(all_lat, 95)
    row = [name, fmt(p50, ".2f"), fmt(p95, ".2f"), fmt(percentile(zh, 50), ".2f"),
           fmt(percentile(en, 50), ".2f"), f"{recall:.3f}%",
           ",".join(missing[:6]) or "-", fmt(res["load_s"], ".1f")]
    return row, {"p50": p50, "p95": p95, "recall": recall, "missed": missed_hits}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2,000 messages, 2 rounds")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--shared-data")
    args = ap.parse_args()
    n = 2000 if args.quick else args.messages
    rounds = 2 if args.quick else args.rounds
    queries = QUERIES_ZH + QUERIES_EN
    data = shared_data(args.shared_data)
    tmpbase = Path(tempfile.mkdtemp(prefix="rongmail-bench-search-", dir="/tmp"))
    tmpbase.chmod(0o755)
    try:
        print(f"building a {n}-message mailbox from shared corpora ...", flush=True)
        raws = build_corpus(data, tmpbase, n)
        fields = reference_fields(raws)
        expected = {q: expected_hits(fields, q) for q in queries}
        print(f"{len(queries)} queries ({len(QUERIES_ZH)} Chinese, {len(QUERIES_EN)} English); "
              f"expected hits per query: median {median(len(v) for v in expected.values()):.0f}",
              flush=True)  # fmt: skip
        results: list[tuple[str, dict[str, Any]]] = []
        results.append(("RongMail SQLite", asyncio.run(
            rongmail_search(raws, "sqlite", queries, rounds, tmpbase))))
        print("sqlite done", flush=True)
        if not args.no_postgres:
            from benchlib import listening
            if listening("127.0.0.1", 5432):
                results.append(("RongMail PostgreSQL", asyncio.run(
                    rongmail_search(raws, "postgres", queries, rounds, tmpbase))))
                print("postgres done", flush=True)
            else:
                print("PostgreSQL not reachable on 127.0.0.1:5432: skipped")
        if not args.no_peer:
            results.append(("Dovecot IMAP SEARCH (mdbox, no FTS)",
                            dovecot_search(raws, queries, rounds, tmpbase)))
            print("dovecot done", flush=True)
        rows, figs = [], {}
        for name, res in results:
            row, f = summarize(name, res, expected, queries)
            rows.append(row)
            figs[name] = f
        print()
        print(f"== search summary: {n} messages, {len(queries)} queries x {rounds} rounds "
              f"(latency in ms) ==")
        print(table(["system", "p50", "p95", "p50 zh", "p50 en", "recall", "missed queries",
                     "load s"], rows))
        peer = figs.get("Dovecot IMAP SEARCH (mdbox, no FTS)")
        for name in ("RongMail SQLite", "RongMail PostgreSQL"):
            if name in figs:
                f = figs[name]
                goal = "met" if f["p50"] <= 10 and f["missed"] == 0 else "NOT met"
                line = (f"{name}: p50 {f['p50']:.2f} ms, recall {f['recall']:.3f}% "
                        f"({f['missed']} expected hits missed) (goal p50<=10ms, 100%: {goal})")
                if peer:
                    line += (f"; speed vs Dovecot (p50 Dovecot/RongMail): "
                             f"{ratio(peer['p50'], f['p50'])}")
                print(line)
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
