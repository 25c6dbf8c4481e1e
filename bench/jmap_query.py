"""Benchmark: the webmail's inbox request over JMAP on a 10,000-message mailbox.

One request = ``Email/query`` (inbox, sorted by receivedAt descending, 50 results) plus
``Email/get`` of those 50 (back-reference, list-view properties with ``preview``), issued by 20
concurrent clients (one keep-alive connection each). Prints p50/p99/mean latency and
throughput; goal p50 <= 30 ms, p99 <= 100 ms. With ``--dovecot`` (default when Dovecot is
installed) the same 10,000 messages are imported into a private Dovecot and 20 IMAP clients time
``UID FETCH`` of the newest 50 envelopes in the same run; the ratio is printed.

A second case is the webmail's search: ``Email/query`` with ``text: "发票"`` + ``from`` +
``after`` in the inbox, sorted by date, 50 results, plus the same ``Email/get``. It runs twice
on the same data in the same run: against the server as it is (the filter compiled to one SQL
statement) and against a second server process with the SQL compiler disabled
(``RONGMAIL_BENCH_IN_MEMORY=1``: the in-memory evaluator, the "before" figure). It reports
server CPU per request and the median latency of one sequential client (figures that hold on
a loaded machine) and p50/p99 under ``--search-clients`` concurrent clients.

The server runs in its own process (``--serve`` re-invokes this file), as in production: one
process, SQLite store, encrypted blobs. Usage::

    python bench/jmap_query.py [--messages 10000] [--clients 20] [--requests 50] [--no-dovecot]
                               [--search-clients 5] [--search-requests 20] [--no-search]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import percentile, ratio, table  # noqa: E402

ENV_KEY = "RONGMAIL_BENCH_MASTER"
USER = "bench@bench.test"
PASSWORD = "Bench-Password-42"
SUBJECTS = ("请查收三月发票", "Weekly report", "会议纪要：项目进度", "Re: contract draft",
            "服务器告警 disk 90%", "Lunch on Friday?", "年度预算审批", "Invoice #{n}")
LIST_PROPS = ["id", "threadId", "mailboxIds", "keywords", "from", "to", "subject", "receivedAt",
              "size", "hasAttachment", "preview"]


def message(n: int, t0: int) -> tuple[bytes, int]:
    subject = SUBJECTS[n % len(SUBJECTS)].replace("{n}", str(n))
    when = t0 + n * 60
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(when))
    body = (f"第 {n} 封邮件。请在周五前回复。\nMessage number {n}; the quarterly numbers are "
            "attached below.\n" * 3)
    from email.header import Header

    raw = (f"From: Sender {n % 97} <sender{n % 97}@example.org>\r\nTo: {USER}\r\n"
           f"Subject: {Header(subject, 'utf-8').encode()}\r\nDate: {date}\r\n"
           f"Message-ID: <bench-{n}@example.org>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           + body.replace("\n", "\r\n")).encode()
    return raw, when


async def open_stack(data: Path, *, fsync: bool) -> tuple[Any, Any]:
    from rongmail.actions.context import ActionContext
    from rongmail.bus import Bus
    from rongmail.config.settings import Settings
    from rongmail.store.fs.blobs import FsBlobStore
    from rongmail.store.fs.keys import KeyRing
    from rongmail.store.reader import Reader
    from rongmail.store.sql import directory as d
    from rongmail.store.sqlite.meta import SqliteMeta

    keys = KeyRing(bytes.fromhex(os.environ[ENV_KEY]))
    meta = SqliteMeta(data / "meta.sqlite3", readers=4)
    await meta.open()
    keys.load(await meta.read(d.tenant_keys()))
    blobs = FsBlobStore(data / "blobs", keys, fsync=fsync)
    ctx = ActionContext(meta=meta, blobs=blobs, bus=Bus(), keys=keys, settings=Settings())
    return ctx, Reader(meta, blobs)


async def seed(data: Path, count: int) -> str:
    """Create the account and deliver ``count`` messages; returns a bearer token."""
    from rongmail.actions import accounts as acc
    from rongmail.actions.jmap import do_create_token
    from rongmail.actions.messages import Target, do_deliver

    ctx, _ = await open_stack(data, fsync=False)
    try:
        tenant = await acc.do_create_tenant(ctx, "bench")
        await acc.do_create_domain(ctx, tenant.id, "bench.test")
        account = await acc.do_create_account(ctx, USER, PASSWORD)
        t0 = int(time.time()) - count * 60
        for start in range(0, count, 200):
            batch = [message(n, t0) for n in range(start, min(count, start + 200))]
            await asyncio.gather(*(do_deliver(ctx, raw, [Target(account.id)], received_at=when)
                                   for raw, when in batch))
        token, _ = await do_create_token(ctx, account.id, kind="bearer", name="bench")
        return token
    finally:
        await ctx.meta.close()


async def serve(data: Path, port: int) -> None:
    from rongmail.protocols import jmap
    from rongmail.protocols.http import login
    from rongmail.protocols.http.server import HttpDeps, build_http_app, start_http
    from rongmail.services.auth.authenticate import Authenticator

    if os.environ.get("RONGMAIL_BENCH_IN_MEMORY"):  # the "before" figure: no SQL compiler
        from rongmail.protocols.jmap.methods.email import query as email_query

        email_query.compile_query = lambda *a: None  # type: ignore[assignment]
    ctx, reader = await open_stack(data, fsync=True)
    deps = HttpDeps(settings=ctx.settings, ctx=ctx, reader=reader, auth=Authenticator(reader))
    runner = await start_http(build_http_app(deps, [login.register, jmap.register]),
                              "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await runner.cleanup()
    await ctx.meta.close()


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process (Linux ``/proc``), to report CPU per request: a
    figure that, unlike latency, does not depend on what else the machine is running."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def search_filter(inbox: str, messages: int) -> dict[str, Any]:
    """The webmail's search box: "发票" from sender1x, in the newer half of the mailbox."""
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(time.time()) - messages * 30))
    return {"operator": "AND", "conditions": [
        {"inMailbox": inbox}, {"text": "发票", "from": "sender1", "after": after}]}


async def jmap_clients(port: int, token: str, clients: int, requests: int, *,
                       search_messages: int | None = None,
                       seen: list[list[str]] | None = None) -> list[float]:
    """Latencies of ``clients`` x ``requests`` query+get requests (the inbox view, or with
    ``search_messages`` the search case); ``seen`` collects each client's first page of ids."""
    import aiohttp

    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.get(base + "/.well-known/jmap") as r:
            session = await r.json()
        aid = session["primaryAccounts"]["urn:ietf:params:jmap:mail"]
        async with s.post(base + "/jmap/api", json={
                "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
                "methodCalls": [["Mailbox/query", {"accountId": aid,
                                                   "filter": {"role": "inbox"}}, "0"]]}) as r:
            inbox = (await r.json())["methodResponses"][0][1]["ids"][0]
    flt = {"inMailbox": inbox} if search_messages is None else search_filter(inbox,
                                                                              search_messages)
    body = {"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"], "methodCalls": [
        ["Email/query", {"accountId": aid, "filter": flt,
                         "sort": [{"property": "receivedAt", "isAscending": False}],
                         "limit": 50, "calculateTotal": True}, "q"],
        ["Email/get", {"accountId": aid, "properties": LIST_PROPS,
                       "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"]]}

    async def one_client() -> list[float]:
        out: list[float] = []
        conn = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(headers=headers, connector=conn) as s:
            for i in range(requests + 3):
                t = time.perf_counter()
                async with s.post(base + "/jmap/api", json=body) as r:
                    data = await r.json()
                dt = time.perf_counter() - t
                got = data["methodResponses"][1][1]["list"]
                want = min(50, data["methodResponses"][0][1].get("total", 50))
                if len(got) != want or not got or "preview" not in got[0]:
                    raise RuntimeError(f"bad response: {str(data)[:300]}")
                if i == 0 and seen is not None:
                    seen.append(data["methodResponses"][0][1]["ids"]
                                + [data["methodResponses"][0][1]["total"]])
                if i >= 3:  # warm-up
                    out.append(dt)
        return out

    results = await asyncio.gather(*(one_client() for _ in range(clients)))
    return [x for r in results for x in r]


# -- Dovecot peer -----------------------------------------------------------------------------------

def dovecot_setup(count: int, workdir: Path) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from peers.dovecot import DovecotServer

    maildir = workdir / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    t0 = int(time.time()) - count * 60
    for n in range(count):
        raw, when = message(n, t0)
        f = maildir / "cur" / f"{when}.{n}.bench:2,"
        f.write_bytes(raw.replace(b"\r\n", b"\n"))
        os.utime(f, (when, when))
    # Dovecot's mail processes run as an unprivileged user when we are root: let them read
    for d in (workdir.parent, workdir, maildir, *(maildir / s for s in ("cur", "new", "tmp"))):
        d.chmod(0o777)  # it also writes its index files next to the source mail
    for f in (maildir / "cur").iterdir():
        f.chmod(0o644)
    dv = DovecotServer(address="127.0.0.1", users={"bench@peer.test": "secret"},
                       login_performance_mode=True,
                       extra={"mail_max_userip_connections": "100"}).start()
    dv.import_maildir("bench@peer.test", maildir, layout_fs=False)
    return dv


async def imap_clients(host: str, port: int, clients: int, requests: int) -> list[float]:
    async def cmd(r: asyncio.StreamReader, w: asyncio.StreamWriter, tag: str, line: str) -> None:
        w.write(f"{tag} {line}\r\n".encode())
        await w.drain()
        while True:
            got = await r.readline()
            if not got:
                raise RuntimeError("IMAP connection closed")
            if got.startswith(tag.encode() + b" "):
                if not got.startswith(f"{tag} OK".encode()):
                    raise RuntimeError(got.decode(errors="replace"))
                return
            # literals: {n}\r\n
            if got.rstrip().endswith(b"}") and b"{" in got:
                n = int(got.rstrip()[got.rstrip().rfind(b"{") + 1:-1])
                await r.readexactly(n)

    async def one_client() -> list[float]:
        r, w = await asyncio.open_connection(host, port)
        await r.readline()
        await cmd(r, w, "a", "LOGIN bench@peer.test secret")
        w.write(b"b SELECT INBOX\r\n")
        await w.drain()
        uidnext = 0
        while True:
            line = await r.readline()
            if b"UIDNEXT" in line:
                uidnext = int(line.split(b"UIDNEXT ")[1].split(b"]")[0])
            if line.startswith(b"b "):
                break
        lo = max(1, uidnext - 50)
        out: list[float] = []
        for i in range(requests + 3):
            t = time.perf_counter()
            await cmd(r, w, f"f{i}", f"UID FETCH {lo}:{uidnext - 1} (UID FLAGS ENVELOPE "
                      "RFC822.SIZE INTERNALDATE)")
            if i >= 3:
                out.append(time.perf_counter() - t)
        await cmd(r, w, "z", "LOGOUT")
        w.close()
        return out

    results = await asyncio.gather(*(one_client() for _ in range(clients)))
    return [x for r in results for x in r]


def summary(name: str, lat: list[float], wall: float) -> list[object]:
    ms = [x * 1000 for x in lat]
    return [name, len(ms), f"{percentile(ms, 50):.1f}", f"{percentile(ms, 99):.1f}",
            f"{sum(ms) / len(ms):.1f}", f"{len(ms) / wall:.0f}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=50, help="per client, after 3 warm-up")
    ap.add_argument("--no-dovecot", action="store_true")
    ap.add_argument("--no-search", action="store_true", help="skip the search-filter case")
    ap.add_argument("--search-clients", type=int, default=5)
    ap.add_argument("--search-requests", type=int, default=20, help="per client, after 3 warm-up")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        if os.environ.get("RONGMAIL_BENCH_PROFILE"):  # where the server spends its CPU
            import cProfile

            cProfile.runctx("asyncio.run(serve(args.serve, args.port))", globals(), locals(),
                            os.environ["RONGMAIL_BENCH_PROFILE"])
        else:
            asyncio.run(serve(args.serve, args.port))
        return 0
    work = Path(tempfile.mkdtemp(prefix="rm-bench-jmap-"))
    os.environ[ENV_KEY] = secrets.token_bytes(32).hex()
    server: subprocess.Popen[bytes] | None = None
    dv = None
    rows = []
    try:
        t = time.perf_counter()
        token = asyncio.run(seed(work, args.messages))
        print(f"seeded {args.messages} messages in {time.perf_counter() - t:.1f} s", flush=True)
        port = free_port()
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(work), "--port",
                                   str(port)], stdout=subprocess.PIPE)
        assert server.stdout is not None
        if server.stdout.readline().strip() != b"ready":
            print("server failed to start", file=sys.stderr)
            return 2
        t = time.perf_counter()
        cpu0 = cpu_seconds(server.pid)
        lat = asyncio.run(jmap_clients(port, token, args.clients, args.requests))
        wall = time.perf_counter() - t
        cpu = cpu_seconds(server.pid) - cpu0
        rows.append(summary("RongMail JMAP query+get(50)", lat, wall))
        t = time.perf_counter()
        solo = asyncio.run(jmap_clients(port, token, 1, args.requests * 2))
        rows.append(summary("RongMail JMAP, 1 client", solo, time.perf_counter() - t))
        load = os.getloadavg()[0]
        served = len(lat) + 3 * args.clients + 2  # plus warm-up and setup requests
        print(f"server CPU per request: {cpu / served * 1000:.2f} ms "
              f"({os.cpu_count()} CPUs, load average {load:.1f} during the run)")
        jmap_p50 = percentile(lat, 50)
        if not args.no_search:
            search_rows: list[list[object]] = [[
                "inbox view (fast path, above)", f"{cpu / served * 1000:.2f}",
                f"{percentile(solo, 50) * 1000:.1f}", "", ""]]
            firsts: list[list[str]] = []
            for label, env in (("search, SQL (this change)", {}),
                               ("search, in-memory (before)", {"RONGMAIL_BENCH_IN_MEMORY": "1"})):
                sport = free_port()
                other = subprocess.Popen([sys.executable, __file__, "--serve", str(work),
                                          "--port", str(sport)], stdout=subprocess.PIPE,
                                         env={**os.environ, **env})
                try:
                    assert other.stdout is not None
                    if other.stdout.readline().strip() != b"ready":
                        print("search server failed to start", file=sys.stderr)
                        return 2
                    seen: list[list[str]] = []
                    c0 = cpu_seconds(other.pid)
                    one = asyncio.run(jmap_clients(sport, token, 1, args.search_requests,
                                                   search_messages=args.messages, seen=seen))
                    c1 = cpu_seconds(other.pid)
                    conc = asyncio.run(jmap_clients(sport, token, args.search_clients,
                                                    args.search_requests,
                                                    search_messages=args.messages))
                    firsts.append(seen[0])
                    # per request: the sequential client's requests incl. 3 warm-up + setup 2
                    per = (c1 - c0) / (args.search_requests + 5) * 1000
                    search_rows.append([label, f"{per:.2f}", f"{percentile(one, 50) * 1000:.1f}",
                                        f"{percentile(conc, 50) * 1000:.1f}",
                                        f"{percentile(conc, 99) * 1000:.1f}"])
                finally:
                    other.send_signal(signal.SIGTERM)
                    other.wait(timeout=30)
            print(table(["case (query+get of 50)", "server CPU ms/req", "p50 ms 1 client",
                         f"p50 ms {args.search_clients} clients",
                         f"p99 ms {args.search_clients} clients"], search_rows))
            print(f"search results identical (ids of the first page + total): "
                  f"{firsts[0] == firsts[1]} (total {firsts[0][-1]})")
        if not args.no_dovecot and shutil.which("dovecot"):
            try:
                dv = dovecot_setup(args.messages, work / "dovecot")
                t = time.perf_counter()
                ilat = asyncio.run(imap_clients(dv.address, dv.imap_port, args.clients,
                                                args.requests))
                iwall = time.perf_counter() - t
                rows.append(summary("Dovecot IMAP UID FETCH(50 env)", ilat, iwall))
                print(table(["system", "requests", "p50 ms", "p99 ms", "mean ms", "req/s"], rows))
                print(f"ratio p50 RongMail/Dovecot: {ratio(jmap_p50, percentile(ilat, 50))}")
            except Exception as exc:  # noqa: BLE001 - the peer is optional
                print(table(["system", "requests", "p50 ms", "p99 ms", "mean ms", "req/s"], rows))
                print(f"Dovecot comparison skipped: {exc}")
        else:
            print(table(["system", "requests", "p50 ms", "p99 ms", "mean ms", "req/s"], rows))
        p50, p99 = percentile(lat, 50) * 1000, percentile(lat, 99) * 1000
        ok = p50 <= 30 and p99 <= 100
        print(f"goal p50 <= 30 ms, p99 <= 100 ms ({args.clients} clients): "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms -> {'PASS' if ok else 'MISS'}")
        return 0 if ok else 1
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if dv is not None:
            dv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
