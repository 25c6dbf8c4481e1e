"""Benchmark: inbound SMTP delivered throughput, RongMail vs Postfix → LMTP → Dovecot (issue 3).

``smtp-source`` (Debian's postfix package) sends messages of 5 KB payload to one recipient:
20,000 with 20 parallel sessions, then 5,000 with 1 session (a new connection per message,
smtp-source's default; ``--reuse`` adds ``-d``). The clock runs from the first connection until
every message is *in its mailbox*: for RongMail, rows in the recipient's INBOX (read-only SQLite
query on the data dir); for the peer, ``doveadm mailbox status messages INBOX``.

Targets, each started privately on loopback by this script:

* RongMail: ``rongmail serve`` on a temp data dir with only ``[listeners] smtp`` enabled
  (127.0.0.51:<port>). If nothing answers there (the SMTP listener is not wired into ``app.py``
  yet) the script prints "RongMail SMTP not available" and still measures the peer.
* Peer: Postfix (own config/queue dirs, smtpd on 127.0.0.31) delivering with its ``lmtp``
  client to Dovecot's LMTP (127.0.0.41), Dovecot storing Maildir (``--peer-format mdbox``
  to compare with mdbox). Stock settings otherwise (tests/peers/postfix_lmtp.py).

Per-transaction latency: during the 20-session phase one extra probe session (Python smtplib,
same 5 KB size, same recipient) times MAIL FROM → 250 after DATA for each of its messages;
p50/p99 of those are reported (its messages are counted in the expected total). In the
1-session phase the mean transaction time (send time / messages) is shown.

Usage: ``python bench/smtp_throughput.py [--runs 3] [--quick] [--only peer|rongmail]``.
``--quick``: 2,000 + 500 messages, one run. Exit status 0 unless the harness fails (2).
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    HarnessError,
    RongMail,
    fmt,
    free_port,
    known_settings,
    median,
    percentile,
    ratio,
    table,
)

RM_ADDR = "127.0.0.51"
SIZE = 5120


@dataclass
class Phase:
    sessions: int
    messages: int


@dataclass
class Result:
    target: str
    phase: Phase
    seconds: float = float("nan")
    send_seconds: float = float("nan")
    delivered: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    error: str = ""

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds == self.seconds else float("nan")


class Probe(threading.Thread):
    """One SMTP session sending 5 KB messages back to back and timing each transaction."""

    def __init__(self, host: str, port: int, rcpt: str, max_messages: int = 100_000,
                 max_seconds: float = 1800) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.rcpt = host, port, rcpt
        self.max_messages, self.max_seconds = max_messages, max_seconds
        self.stop_flag = threading.Event()
        self.lat_ms: list[float] = []
        self.sent = 0
        self.error = ""
        self.reconnects = 0

    def run(self) -> None:
        body = ("Subject: latency probe\r\nFrom: probe@client.test\r\n\r\n"
                + ("x" * 76 + "\r\n") * (SIZE // 78)).encode()  # fmt: skip
        deadline = time.monotonic() + self.max_seconds
        reconnects = 0
        while (not self.stop_flag.is_set() and self.sent < self.max_messages
               and time.monotonic() < deadline and reconnects < 1000):
            # a server may close a long session (command limits, 421): reconnect like an MTA
            try:
                with smtplib.SMTP(self.host, self.port, timeout=60) as s:
                    s.ehlo("probe.client.test")
                    while (not self.stop_flag.is_set() and self.sent < self.max_messages
                           and time.monotonic() < deadline):
                        t = time.perf_counter()
                        s.sendmail("probe@client.test", [self.rcpt], body)
                        self.lat_ms.append((time.perf_counter() - t) * 1000)
                        self.sent += 1
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPSenderRefused) as e:
                reconnects += 1
                code = getattr(e, "smtp_code", 0)
                if isinstance(e, smtplib.SMTPRecipientsRefused):
                    code = min((c for c, _ in e.recipients.values()), default=0)
                if not (isinstance(e, smtplib.SMTPServerDisconnected) or 400 <= code < 500):
                    self.error = f"{type(e).__name__}: {e}"
                    return
            except (OSError, smtplib.SMTPException) as e:
                self.error = f"{type(e).__name__}: {e}"
                return
        self.reconnects = reconnects


def run_phase(name: str, host: str, port: int, rcpt: str, phase: Phase,
              count: Callable[[], int], *, reuse: bool, timeout: float) -> Result:
    res = Result(name, phase)
    base = count()
    cmd = ["smtp-source", "-l", str(SIZE), "-m", str(phase.messages), "-s", str(phase.sessions),
           "-f", "sender@client.test", "-t", rcpt, "-M", "client.test"]
    if reuse:
        cmd.append("-d")
    cmd.append(f"{host}:{port}")
    probe = Probe(host, port, rcpt) if phase.sessions > 1 else None
    t0 = time.monotonic()
    if probe:
        probe.start()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    res.send_seconds = time.monotonic() - t0
    if probe:
        probe.stop_flag.set()
        probe.join(timeout=120)
        res.latencies_ms = probe.lat_ms
        if probe.error:
            res.error = f"probe: {probe.error}"
    if proc.returncode != 0:
        res.error = f"smtp-source exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
        return res
    expected = base + phase.messages + (probe.sent if probe else 0)
    deadline = time.monotonic() + timeout
    n = count()
    while n < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        n = count()
    res.seconds = time.monotonic() - t0
    res.delivered = n - base
    if n < expected:
        res.error = f"only {n - base} of {expected - base} delivered after {timeout:.0f}s"
        res.seconds = float("nan")
    if not probe:
        res.latencies_ms = [res.send_seconds * 1000 / max(1, phase.messages)]
    return res


# -- targets -------------------------------------------------------------------------------------
def rongmail_counter(rm: RongMail) -> Callable[[], int]:
    def count() -> int:
        try:
            con = sqlite3.connect(f"file:{rm.sqlite_path()}?mode=ro", uri=True, timeout=5)
            try:
                row = con.execute(
                    "SELECT COUNT(*) FROM mailbox_message mm JOIN mailbox mb ON mb.id ="
                    " mm.mailbox_id JOIN account a ON a.id = mb.account_id"
                    " WHERE a.address = ? AND mb.role = 'inbox'", (rm.address,)).fetchone()
                return int(row[0])
            finally:
                con.close()
        except sqlite3.Error:
            return 0
    return count


def bench_rongmail(phases: list[Phase], runs: int, reuse: bool, timeout: float,
                   ) -> tuple[list[Result], str]:
    out: list[Result] = []
    # like the peer (postfix_lmtp.py turns Postfix's anvil limits off): a benchmark client
    # sends from one address, so per-IP connection and rate limits are lifted
    env = {"RONGMAIL_SMTP__MAX_CONNECTIONS_PER_IP": "1000",
           "RONGMAIL_SMTP__MESSAGES_PER_MINUTE_PER_IP": "0",
           "RONGMAIL_LIMITS__MAX_CONNECTIONS_PER_IP": "1000"}
    env = known_settings(env)
    with RongMail(env=env) as rm:
        rm.init()
        port = free_port(RM_ADDR)
        rm.serve({"smtp": (RM_ADDR, port)}, wait=30)
        if not rm.available("smtp"):
            why = ("rongmail serve exited: " + rm.log_text()[-300:].strip()
                   if rm.proc is None or rm.proc.poll() is not None
                   else f"nothing listens on the [listeners] smtp address {RM_ADDR}:{port}")
            return out, f"RongMail SMTP not available ({why})"
        count = rongmail_counter(rm)
        for r in range(runs):
            for ph in phases:
                res = run_phase("RongMail", RM_ADDR, port, rm.address, ph, count, reuse=reuse,
                                timeout=timeout)  # fmt: skip
                report(res, r)
                out.append(res)
    return out, ""


def bench_peer(phases: list[Phase], runs: int, reuse: bool, timeout: float,
               fmt_: str) -> tuple[list[Result], str]:
    from peers.postfix_lmtp import PostfixLmtpStack

    out: list[Result] = []
    with PostfixLmtpStack(mail_format=fmt_) as st:
        user = next(iter(st.users))
        for r in range(runs):
            for ph in phases:
                res = run_phase(f"Postfix+Dovecot({fmt_})", st.address, st.port, user, ph,
                                lambda: st.count(user), reuse=reuse, timeout=timeout)
                report(res, r)
                out.append(res)
    return out, ""


def report(res: Result, run: int) -> None:
    lat = res.latencies_ms
    print(f"run {run + 1} {res.target:<24} {res.phase.sessions:>2} sessions "
          f"{res.phase.messages} msgs: {res.delivered} delivered in {fmt(res.seconds, '.1f')}s "
          f"= {fmt(res.rate, '.0f')} msg/s (sent in {res.send_seconds:.1f}s; "
          f"lat p50 {fmt(percentile(lat, 50), '.1f')} ms)"
          + (f" ERROR {res.error}" if res.error else ""), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="2,000 + 500 messages, one run")
    ap.add_argument("--only", choices=["rongmail", "peer"])
    ap.add_argument("--reuse", action="store_true", help="smtp-source -d (keep connections)")
    ap.add_argument("--peer-format", choices=["maildir", "mdbox"], default="maildir")
    ap.add_argument("--timeout", type=float, default=900, help="per phase")
    args = ap.parse_args()
    if shutil.which("smtp-source") is None:
        raise HarnessError("smtp-source missing (apt-get install postfix)")
    runs = 1 if args.quick else args.runs
    phases = ([Phase(20, 2000), Phase(1, 500)] if args.quick
              else [Phase(20, 20000), Phase(1, 5000)])  # fmt: skip
    results: dict[str, list[Result]] = {}
    notes: list[str] = []
    if args.only != "peer":
        rm, note = bench_rongmail(phases, runs, args.reuse, args.timeout)
        if note:
            print(note, flush=True)
            notes.append(note)
        results["RongMail"] = rm
    if args.only != "rongmail":
        peer, note = bench_peer(phases, runs, args.reuse, args.timeout, args.peer_format)
        results["peer"] = peer
    print()
    print(f"== smtp_throughput summary: median of {runs} run(s), {SIZE} B payload, "
          f"{'persistent' if args.reuse else 'one connection per message'} ==")
    rows: list[list[Any]] = []
    rates: dict[tuple[str, int], float] = {}
    for key, rs in results.items():
        for ph in phases:
            sel = [r for r in rs if r.phase == ph]
            if not sel:
                continue
            lat = [x for r in sel for x in r.latencies_ms]
            rate = median(r.rate for r in sel)
            rates[(key, ph.sessions)] = rate
            lat_note = "p50/p99" if ph.sessions > 1 else "mean"
            rows.append([sel[0].target, ph.sessions, ph.messages, fmt(rate, ".0f"),
                         fmt(median(r.seconds for r in sel), ".1f"),
                         f"{fmt(percentile(lat, 50), '.1f')}/{fmt(percentile(lat, 99), '.1f')}"
                         if ph.sessions > 1 else fmt(lat[0] if lat else None, ".1f"),
                         lat_note, "; ".join(r.error for r in sel if r.error)[:60] or "-"])
        if not rs and key == "RongMail":
            rows.append(["RongMail", "-", "-", "n/a", "n/a", "n/a", "", "not available"])
    print(table(["system", "sessions", "messages", "msg/s", "seconds", "txn latency ms",
                 "latency", "errors"], rows))
    for ph in phases:
        a, b = rates.get(("RongMail", ph.sessions)), rates.get(("peer", ph.sessions))
        print(f"ratio RongMail/peer at {ph.sessions} session(s): "
              f"{ratio(a, b) if a is not None and b is not None else 'n/a'}")
    for n in notes:
        print(n)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as e:
        print(f"harness error: {e}", file=sys.stderr)
        sys.exit(2)
