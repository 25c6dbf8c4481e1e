"""Benchmark: server CPU per IMAP command, one client, RongMail vs Dovecot mdbox (issue 4).

Where ``imap_mixed.py`` measures throughput under 20 concurrent clients, which on a shared
2-core machine mixes the servers' efficiency with scheduling and with the other server's
process model, this measures what each command costs the server: one client (Python's
``imaplib``) sends each command kind ``--count`` times in sequence against the same
2,000-message INBOX (``imap_mixed.make_messages``, fixed seed), and the server's CPU time
(``benchlib.tree_cpu_ns``: the nanosecond run time of every live thread of its process tree
from ``/proc/<n>/task/<t>/schedstat``, plus reaped children's CPU, so Dovecot's per-login
processes count) is divided by the number of commands. (Until session 5 this used utime +
stime in 10 ms clock ticks. Finer counting did not make the figures steadier: on the shared
2-core machine both servers' per-command CPU still moved by 20-30% from one run to the next,
together, so compare the servers within one run, and changes with paired runs.)

Kinds: ``NOOP``; ``FETCH n BODY[]`` of a random message (sets \\Seen, as in the mixed load);
``STORE n ±FLAGS (\\Seen)``; re-``SELECT INBOX``; LOGOUT + connect + LOGIN + SELECT;
``FETCH 1:* (FLAGS ENVELOPE)``. Both servers plaintext on loopback (RongMail with
``RONGMAIL_IMAP__ALLOW_PLAINTEXT_AUTH=true``, Dovecot with ``ssl = no``). Printed: server CPU
ms per command and wall ms per command for each, and RongMail's CPU relative to Dovecot's
(below 1.0: RongMail spends less). ``--workers`` is irrelevant here (one client, one
connection at a time). Exit status 0 unless the harness fails (2).

Usage: ``python bench/imap_commands.py [--count 600] [--runs 2] [--only rongmail|peer]``.
"""

from __future__ import annotations

import argparse
import imaplib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from benchlib import RongMail, free_port, median, table, tree_cpu_ns  # noqa: E402
from imap_mixed import make_messages, write_maildir  # noqa: E402

RM_ADDR = "127.0.0.58"
DV_ADDR = "127.0.0.59"
KINDS = ("noop", "fetch_body", "store_seen", "select", "relogin", "fetch_all_env")
#: relative counts: a re-login and a FETCH 1:* cost many times a short command
SCALE = {"relogin": 0.25, "fetch_all_env": 0.05}


class Driver:
    """One imaplib client and the command kinds, against one server."""

    def __init__(self, host: str, port: int, user: str, password: str) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.rnd = random.Random(7)
        self.c = self._login()

    def _login(self) -> imaplib.IMAP4:
        c = imaplib.IMAP4(self.host, self.port)
        c.login(self.user, self.password)
        typ, _ = c.select("INBOX")
        if typ != "OK":
            raise RuntimeError("SELECT INBOX failed")
        return c

    def _n(self) -> str:
        return str(self.rnd.randint(1, 2000))

    def step(self, kind: str) -> None:
        c = self.c
        if kind == "noop":
            c.noop()
        elif kind == "fetch_body":
            c.fetch(self._n(), "(BODY[])")
        elif kind == "store_seen":
            c.store(self._n(), "+FLAGS" if self.rnd.random() < 0.5 else "-FLAGS", "(\\Seen)")
        elif kind == "select":
            c.select("INBOX")
        elif kind == "relogin":
            c.logout()
            self.c = self._login()
        elif kind == "fetch_all_env":
            c.fetch("1:*", "(FLAGS ENVELOPE)")


def measure(driver: Driver, pid: int, count: int) -> dict[str, tuple[float, float]]:
    """{kind: (server CPU ms per command, wall ms per command)}."""
    out: dict[str, tuple[float, float]] = {}
    for kind in KINDS:
        n = max(10, int(count * SCALE.get(kind, 1.0)))
        for _ in range(5):  # warm-up: caches, a first login
            driver.step(kind)
        c0 = tree_cpu_ns(pid)
        t0 = time.perf_counter()
        for _ in range(n):
            driver.step(kind)
        wall = time.perf_counter() - t0
        c1 = tree_cpu_ns(pid)
        out[kind] = (1000 * (c1 - c0) / n, 1000 * wall / n)
        print(f"  {kind:<14} {out[kind][0]:7.3f} ms CPU, {out[kind][1]:7.2f} ms wall "
              f"({n} commands)", flush=True)  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=600, help="short commands per kind and run")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--only", choices=["rongmail", "peer"])
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rongmail-bench-cmds-", dir="/tmp"))
    tmp.chmod(0o755)
    md = write_maildir(make_messages(2000), tmp / "Maildir")
    results: dict[str, list[dict[str, tuple[float, float]]]] = {"RongMail": [], "Dovecot": []}
    try:
        if args.only != "peer":
            env = {"RONGMAIL_IMAP__ALLOW_PLAINTEXT_AUTH": "true"}
            with RongMail(env=env, base=tmp) as rm:
                rm.init()
                rm.cli("import", str(md), "--account", rm.address, "--no-progress",
                       timeout=3600)  # fmt: skip
                port = free_port(RM_ADDR)
                rm.serve({"imap": (RM_ADDR, port)}, wait=30)
                pid = rm.pid()
                if pid is None or not rm.available("imap"):
                    print("RongMail IMAP not available", flush=True)
                    return 2
                for r in range(args.runs):
                    print(f"run {r + 1} RongMail", flush=True)
                    results["RongMail"].append(
                        measure(Driver(RM_ADDR, port, rm.address, rm.password), pid, args.count))
        if args.only != "rongmail":
            from peers.dovecot import DovecotServer

            user, pw = "bench@peer.test", "secret-Bench-1"
            with DovecotServer(address=DV_ADDR, users={user: pw}) as dv:
                dv.import_maildir(user, md, layout_fs=False)
                master = int((dv.base / "run" / "master.pid").read_text().strip())
                for r in range(args.runs):
                    print(f"run {r + 1} Dovecot", flush=True)
                    results["Dovecot"].append(
                        measure(Driver(DV_ADDR, dv.imap_port, user, pw), master, args.count))
    except (OSError, RuntimeError, imaplib.IMAP4.error) as e:
        print(f"harness failed: {e!r}", flush=True)
        return 2
    finally:
        import shutil

        if not os.environ.get("RONGMAIL_KEEP_PEERS"):
            shutil.rmtree(tmp, ignore_errors=True)

    def med(name: str, kind: str, i: int) -> float:
        runs = results[name]
        return median(r[kind][i] for r in runs) if runs else float("nan")

    rows = []
    for kind in KINDS:
        rm_cpu, dv_cpu = med("RongMail", kind, 0), med("Dovecot", kind, 0)
        rel = f"{rm_cpu / dv_cpu:.2f}" if rm_cpu == rm_cpu and dv_cpu == dv_cpu and dv_cpu else "n/a"
        rows.append([kind, f"{rm_cpu:.3f}", f"{med('RongMail', kind, 1):.2f}", f"{dv_cpu:.3f}",
                     f"{med('Dovecot', kind, 1):.2f}", rel])  # fmt: skip
    print(f"\n== imap_commands: server CPU per command, one client, 2,000-message INBOX, "
          f"median of {args.runs} run(s) ==")  # fmt: skip
    print(table(["command", "RongMail CPU ms", "wall ms", "Dovecot CPU ms", "wall ms",
                 "CPU RongMail/Dovecot"], rows))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
