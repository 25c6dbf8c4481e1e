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

Every phase of every run delivers to a mailbox of its own, created empty for it on both
targets (``mailbox_name``): with one mailbox for every run, the peer's Maildir delivery slowed
as the folder grew (154 msg/s in the first 20-session run, 64 in the second), so a run's
figure depended on the runs before it.

Two configurations (``--config default|full|both``, default both):

* ``default``: RongMail as installed (mail authentication against the system resolver, spam
  stage, search indexing), ``smtp-source`` content (unsigned, from ``client.test``).
  Per-transaction latency: during the 20-session phase one extra probe session (Python
  smtplib, same 5 KB size, same recipient) times MAIL FROM → 250 after DATA for each of its
  messages; p50/p99 of those are reported (its messages are counted in the expected total). In
  the 1-session phase the mean transaction time (send time / messages) is shown.
* ``full`` ("full inbound pipeline", issue 3): a private Knot DNS server (tests/peers, on
  127.0.0.53) publishes SPF (``ip4:127.0.0.0/8 -all``), an RSA-2048 DKIM key and DMARC
  ``p=reject`` for ``client.test``; RongMail resolves through it only, so SPF, DKIM and DMARC
  all pass for real; the spam stage and search indexing are on. smtp-source cannot send a
  given message, so a small asyncio SMTP client (:class:`LoadClient`, one connection per
  message like smtp-source) sends 100 distinct DKIM-signed 5 KB messages round-robin with the
  same number of sessions, to both targets, and times *every* transaction (MAIL FROM → 250
  after DATA): p50/p99 are over all of them. The peer is the same Postfix → LMTP → Dovecot
  stack as in ``default`` (stock: it verifies nothing).

Usage: ``python bench/smtp_throughput.py [--runs 3] [--quick] [--only peer|rongmail]
[--config default|full|both]``. ``--quick``: 2,000 + 500 messages, one run. Exit status 0
unless the harness fails (2).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
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
    tree_cpu,
)

RM_ADDR = "127.0.0.51"
SIZE = 5120
SENDER_DOMAIN = "client.test"
DNS_ADDR = "127.0.0.53"
SIGNED_VARIANTS = 100


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
    config: str = "default"
    #: p50/p99 are over every transaction (LoadClient), not over a probe session's sample
    all_timed: bool = False
    #: CPU seconds (utime + stime) of the server's process tree during the phase (RongMail only)
    server_cpu: float = float("nan")

    @property
    def cpu_ms_per_msg(self) -> float:
        return self.server_cpu * 1000 / self.delivered if self.delivered else float("nan")

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds == self.seconds else float("nan")


class Probe(threading.Thread):
    """One SMTP session sending 5 KB messages back to back and timing each transaction."""

    def __init__(
        self,
        host: str,
        port: int,
        rcpt: str,
        max_messages: int = 100_000,
        max_seconds: float = 1800,
    ) -> None:
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
        while (
            not self.stop_flag.is_set()
            and self.sent < self.max_messages
            and time.monotonic() < deadline
            and reconnects < 1000
        ):
            # a server may close a long session (command limits, 421): reconnect like an MTA
            try:
                with smtplib.SMTP(self.host, self.port, timeout=60) as s:
                    s.ehlo("probe.client.test")
                    while (
                        not self.stop_flag.is_set()
                        and self.sent < self.max_messages
                        and time.monotonic() < deadline
                    ):
                        t = time.perf_counter()
                        s.sendmail("probe@client.test", [self.rcpt], body)
                        self.lat_ms.append((time.perf_counter() - t) * 1000)
                        self.sent += 1
            except (
                smtplib.SMTPServerDisconnected,
                smtplib.SMTPRecipientsRefused,
                smtplib.SMTPSenderRefused,
            ) as e:
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


def run_phase(
    name: str,
    host: str,
    port: int,
    rcpt: str,
    phase: Phase,
    count: Callable[[], int],
    *,
    reuse: bool,
    timeout: float,
    signed: Sequence[bytes] = (),
) -> Result:
    """One phase: send, then wait until every message is in the mailbox. With ``signed``
    (the ``full`` configuration) :class:`LoadClient` sends those messages; else smtp-source."""
    if signed:
        res = Result(name, phase, config="full", all_timed=True)
        return _run_phase_loadclient(
            res, (host, port, rcpt), count, reuse=reuse, timeout=timeout, messages=signed
        )
    res = Result(name, phase)
    base = count()
    cmd = [
        "smtp-source",
        "-l",
        str(SIZE),
        "-m",
        str(phase.messages),
        "-s",
        str(phase.sessions),
        "-f",
        "sender@client.test",
        "-t",
        rcpt,
        "-M",
        "client.test",
    ]
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
    _wait_delivered(
        res, count, base, base + phase.messages + (probe.sent if probe else 0), t0, timeout
    )
    if not probe:
        res.latencies_ms = [res.send_seconds * 1000 / max(1, phase.messages)]
    return res


def _wait_delivered(
    res: Result, count: Callable[[], int], base: int, expected: int, t0: float, timeout: float
) -> None:
    """Poll the mailbox until ``expected`` messages are in it; set seconds and delivered."""
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


def _run_phase_loadclient(
    res: Result, target: tuple[str, int, str], count: Callable[[], int], *, reuse: bool,
    timeout: float, messages: Sequence[bytes]
) -> Result:  # fmt: skip
    base = count()
    host, port, rcpt = target
    client = LoadClient(
        host,
        port,
        rcpt,
        messages,
        total=res.phase.messages,
        sessions=res.phase.sessions,
        reuse=reuse,
    )
    t0 = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(client.run(), timeout))
    except TimeoutError:
        client.error = client.error or f"sending did not finish in {timeout:.0f}s"
    res.send_seconds = time.monotonic() - t0
    res.latencies_ms = client.lat_ms
    if client.error:
        res.error = f"client: {client.error}"
        return res
    _wait_delivered(res, count, base, base + client.sent, t0, timeout)
    return res


class LoadClient:
    """``sessions`` concurrent SMTP clients sending ``total`` messages (round-robin from
    ``messages``, which are complete RFC 5322 messages), one connection per message unless
    ``reuse``, no pipelining (as smtp-source). Every transaction is timed from MAIL FROM to
    the 250 after the final dot. Stops at the first unexpected reply (recorded in ``error``);
    a 4xx is counted in ``tempfailed`` and the message is not retried."""

    def __init__(
        self,
        host: str,
        port: int,
        rcpt: str,
        messages: Sequence[bytes],
        *,
        total: int,
        sessions: int,
        reuse: bool,
    ) -> None:
        self.host, self.port, self.rcpt = host, port, rcpt
        # dot-stuffed once (RFC 5321 §4.5.2), each ending in CRLF.CRLF
        self.payloads = [
            b"\r\n..".join(m.split(b"\r\n.")).removesuffix(b"\r\n") + b"\r\n.\r\n" for m in messages
        ]
        self.total, self.sessions, self.reuse = total, sessions, reuse
        self.lat_ms: list[float] = []
        self.sent = 0
        self.tempfailed = 0
        self.error = ""
        self._next = 0

    async def run(self) -> None:
        await asyncio.gather(*(self._session() for _ in range(self.sessions)))

    @staticmethod
    async def _reply(reader: asyncio.StreamReader) -> int:
        while True:
            line = await reader.readline()
            if len(line) < 4:
                raise ConnectionError(f"bad reply {line!r}")
            if line[3:4] != b"-":
                return int(line[:3])

    async def _expect(self, reader: asyncio.StreamReader, ok: int) -> bool:
        code = await self._reply(reader)
        if code == ok:
            return True
        if 400 <= code < 500:
            self.tempfailed += 1
            return False
        raise ConnectionError(f"unexpected reply {code}")

    async def _session(self) -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while not self.error and self._next < self.total:
                i = self._next
                self._next += 1
                if conn is None:
                    conn = await asyncio.open_connection(self.host, self.port)
                    reader, writer = conn
                    await self._expect(reader, 220)
                    writer.write(b"EHLO load.client.test\r\n")
                    await self._expect(reader, 250)
                reader, writer = conn
                t = time.perf_counter()
                writer.write(f"MAIL FROM:<sender@{SENDER_DOMAIN}>\r\n".encode())
                ok = await self._expect(reader, 250)
                if ok:
                    writer.write(f"RCPT TO:<{self.rcpt}>\r\n".encode())
                    ok = await self._expect(reader, 250)
                if ok:
                    writer.write(b"DATA\r\n")
                    ok = await self._expect(reader, 354)
                if ok:
                    writer.write(self.payloads[i % len(self.payloads)])
                    ok = await self._expect(reader, 250)
                if ok:
                    self.lat_ms.append((time.perf_counter() - t) * 1000)
                    self.sent += 1
                else:
                    writer.write(b"RSET\r\n")
                    await self._reply(reader)
                if not self.reuse or not ok:
                    writer.write(b"QUIT\r\n")
                    await writer.drain()
                    writer.close()
                    conn = None
        except (OSError, ValueError) as e:
            self.error = self.error or f"{type(e).__name__}: {e}"
        finally:
            if conn is not None:
                conn[1].close()


# -- the "full pipeline" configuration -----------------------------------------------------------
def _body_text(seed: int) -> str:
    """~5 KB of plain English-like text, different per message (spam and index do real work)."""
    import random

    rnd = random.Random(seed)
    words = (
        "meeting budget quarter report project schedule review team office invoice "
        "customer contract update please attached draft thanks regards delivery order "
        "shipment account balance payment planning notes agenda minutes friday monday "
        "proposal estimate server network storage release version feature issue"
    ).split()
    lines: list[str] = []
    size = 0
    while size < SIZE:
        line = " ".join(rnd.choice(words) for _ in range(11)).capitalize() + "."
        lines.append(line)
        size += len(line) + 2
    return "\r\n".join(lines) + "\r\n"


def signed_messages(rcpt_domain: str, key: Any, n: int = SIGNED_VARIANTS) -> list[bytes]:
    """``n`` distinct 5 KB messages from ``client.test``, DKIM-signed (RSA-2048) with ``key``."""
    from datetime import UTC, datetime
    from email.utils import format_datetime

    from rongmail.services.mailauth.dkim import DkimSigner

    signer = DkimSigner({SENDER_DOMAIN: [key.key]})
    now = format_datetime(datetime.now(UTC))

    async def sign_all() -> list[bytes]:
        out = []
        for i in range(n):
            raw = (f"From: Sender {i} <sender@{SENDER_DOMAIN}>\r\n"
                   f"To: <bench@{rcpt_domain}>\r\n"
                   f"Subject: Quarterly report {i}\r\n"
                   f"Date: {now}\r\n"
                   f"Message-ID: <{uuid.uuid4().hex}@{SENDER_DOMAIN}>\r\n"
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=us-ascii\r\n"
                   "\r\n" + _body_text(i)).encode()  # fmt: skip
            out.append(await signer.sign(raw, SENDER_DOMAIN))
        return out

    return asyncio.run(sign_all())


def start_dns(stack: ExitStack, workdir: Path) -> tuple[Any, Any]:
    """Knot on 127.0.0.53 serving SPF, DKIM (RSA-2048) and DMARC p=reject for client.test."""
    from peers.dns_server import KnotServer, Record, spf
    from rongmail.services.mailauth.dkim import generate_dkim_key

    key = generate_dkim_key(SENDER_DOMAIN, "bench", "rsa-sha256")
    zones = {SENDER_DOMAIN: [
        Record("@", "TXT", spf("ip4:127.0.0.0/8 -all")),
        Record("bench._domainkey", "TXT", key.txt),
        Record("_dmarc", "TXT", "v=DMARC1; p=reject; adkim=s; aspf=s"),
        Record("@", "MX", "10 mx"), Record("mx", "A", "127.0.0.1"),
    ]}  # fmt: skip
    dns = stack.enter_context(KnotServer(workdir, zones, address=DNS_ADDR))
    return dns, key


# -- targets -------------------------------------------------------------------------------------
def mailbox_name(config: str, run: int, phase: Phase) -> str:
    """The local part that receives one phase of one run: every phase starts with an empty
    mailbox on both targets. (With one mailbox for every run, Postfix → LMTP → Dovecot Maildir
    delivered 154 msg/s in the first 20-session run and 64 in the second, its delivery cost
    growing with the folder, so a run's figure depended on the runs before it.)"""
    return f"{config[0]}{run + 1}s{phase.sessions}"


def rongmail_counter(rm: RongMail, address: str) -> Callable[[], int]:
    def count() -> int:
        try:
            con = sqlite3.connect(f"file:{rm.sqlite_path()}?mode=ro", uri=True, timeout=5)
            try:
                row = con.execute(
                    "SELECT COUNT(*) FROM mailbox_message mm JOIN mailbox mb ON mb.id ="
                    " mm.mailbox_id JOIN account a ON a.id = mb.account_id"
                    " WHERE a.address = ? AND mb.role = 'inbox'",
                    (address,),
                ).fetchone()
                return int(row[0])
            finally:
                con.close()
        except sqlite3.Error:
            return 0

    return count


#: a benchmark client sends from one address: like the peer (postfix_lmtp.py turns Postfix's
#: anvil limits off) per-IP connection and rate limits are lifted; external scanners (clamd,
#: rspamd) are not auto-detected, so the figures do not depend on what else runs here
BASE_ENV = {
    "RONGMAIL_SMTP__MAX_CONNECTIONS_PER_IP": "1000",
    "RONGMAIL_SMTP__MESSAGES_PER_MINUTE_PER_IP": "0",
    "RONGMAIL_LIMITS__MAX_CONNECTIONS_PER_IP": "1000",
    "RONGMAIL_SPAM__CLAMD__AUTO_DETECT": "false",
    "RONGMAIL_SPAM__RSPAMD__AUTO_DETECT": "false",
}


def bench_rongmail(
    phases: list[Phase],
    runs: int,
    reuse: bool,
    timeout: float,
    config: str,
    dns: Any = None,
    signed: Sequence[bytes] = (),
    workers: int = 1,
) -> tuple[list[Result], str]:
    out: list[Result] = []
    env = dict(BASE_ENV)
    if workers > 1:  # [server] workers: SMTP served by this many processes
        env["RONGMAIL_SERVER__WORKERS"] = str(workers)
    if dns is not None:  # full: every DNS question goes to the private Knot
        env |= {
            "RONGMAIL_QUEUE__DNS__NAMESERVERS": f'["{dns.address}"]',
            "RONGMAIL_QUEUE__DNS__PORT": str(dns.port),
            "RONGMAIL_QUEUE__DNS__TIMEOUT": "2.0",
        }
    env = known_settings(env)
    with RongMail(env=env, domain="bench.test") as rm:
        rm.init()
        port = free_port(RM_ADDR)
        rm.serve({"smtp": (RM_ADDR, port)}, wait=30)
        if not rm.available("smtp"):
            why = (
                "rongmail serve exited: " + rm.log_text()[-300:].strip()
                if rm.proc is None or rm.proc.poll() is not None
                else f"nothing listens on the [listeners] smtp address {RM_ADDR}:{port}"
            )
            return out, f"RongMail SMTP not available ({why})"
        serve_pid = rm.proc.pid if rm.proc else 0
        for r in range(runs):
            for ph in phases:
                rcpt = f"{mailbox_name(config, r, ph)}@{rm.domain}"
                rm.cli("user", "add", rcpt, "--password", rm.password)
                count = rongmail_counter(rm, rcpt)
                cpu0 = sum(tree_cpu(serve_pid)) if serve_pid else float("nan")
                res = run_phase("RongMail", RM_ADDR, port, rcpt, ph, count, reuse=reuse,
                                timeout=timeout, signed=signed)  # fmt: skip
                res.server_cpu = (sum(tree_cpu(serve_pid)) if serve_pid else float("nan")) - cpu0
                res.config = config
                report(res, r)
                out.append(res)
        if signed and (problem := _check_full_pipeline(rm)):
            for res in out:
                res.error = "; ".join(e for e in (res.error, problem) if e)
    return out, ""


def _check_full_pipeline(rm: RongMail) -> str:
    """The full configuration must really have passed SPF, DKIM and DMARC (else its figure
    would measure a shortcut): every spam verdict logged must carry all three passes."""
    verdicts = [ln for ln in rm.log_text().splitlines() if "spam verdict" in ln]
    bad = [ln for ln in verdicts
           if not all(t in ln for t in ("SPF_PASS", "DKIM_PASS", "DMARC_PASS"))]  # fmt: skip
    if not verdicts:
        return "full pipeline: no spam verdict logged (stage off?)"
    if bad:
        return f"full pipeline: {len(bad)} of {len(verdicts)} not SPF/DKIM/DMARC pass"
    return ""


def bench_peer(
    phases: list[Phase],
    runs: int,
    reuse: bool,
    timeout: float,
    fmt_: str,
    configs: dict[str, Sequence[bytes]],
) -> tuple[list[Result], str]:
    from peers.postfix_lmtp import PostfixLmtpStack

    out: list[Result] = []
    domain = "peer.test"
    users = {f"{mailbox_name(c, r, ph)}@{domain}": "secret"
             for c in configs for r in range(runs) for ph in phases}  # fmt: skip
    with PostfixLmtpStack(mail_format=fmt_, domain=domain, users=users) as st:
        for config, signed in configs.items():
            for r in range(runs):
                for ph in phases:
                    user = f"{mailbox_name(config, r, ph)}@{domain}"
                    res = run_phase(f"Postfix+Dovecot({fmt_})", st.address, st.port, user, ph,
                                    lambda user=user: st.count(user), reuse=reuse,
                                    timeout=timeout,
                                    signed=signed)  # fmt: skip
                    res.config = config
                    report(res, r)
                    out.append(res)
    return out, ""


def report(res: Result, run: int) -> None:
    lat = res.latencies_ms
    print(
        f"run {run + 1} [{res.config}] {res.target:<24} {res.phase.sessions:>2} sessions "
        f"{res.phase.messages} msgs: {res.delivered} delivered in {fmt(res.seconds, '.1f')}s "
        f"= {fmt(res.rate, '.0f')} msg/s (sent in {res.send_seconds:.1f}s; "
        f"lat p50 {fmt(percentile(lat, 50), '.1f')} ms"
        + (f"; serve CPU {res.cpu_ms_per_msg:.2f} ms/msg" if res.server_cpu == res.server_cpu
           else "")
        + ")"
        + (f" ERROR {res.error}" if res.error else ""),
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="2,000 + 500 messages, one run")
    ap.add_argument("--only", choices=["rongmail", "peer"])
    ap.add_argument("--reuse", action="store_true", help="smtp-source -d (keep connections)")
    ap.add_argument("--peer-format", choices=["maildir", "mdbox"], default="maildir")
    ap.add_argument("--timeout", type=float, default=900, help="per phase")
    ap.add_argument(
        "--config",
        choices=["default", "full", "both"],
        default="both",
        help="default: as installed, smtp-source; full: SPF/DKIM/DMARC against a "
        "local Knot with signed messages, spam, indexing (see the docstring)",
    )
    ap.add_argument("--workers", type=int, default=1, help="RongMail [server] workers")
    args = ap.parse_args()
    if shutil.which("smtp-source") is None:
        raise HarnessError("smtp-source missing (apt-get install postfix)")
    runs = 1 if args.quick else args.runs
    phases = ([Phase(20, 2000), Phase(1, 500)] if args.quick
              else [Phase(20, 20000), Phase(1, 5000)])  # fmt: skip
    configs = ["default", "full"] if args.config == "both" else [args.config]
    results: dict[str, list[Result]] = {"RongMail": [], "peer": []}
    notes: list[str] = []
    with ExitStack() as stack:
        signed: dict[str, Sequence[bytes]] = {"default": ()}
        dns = None
        if "full" in configs:
            import tempfile

            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smtp-bench-")))
            dns, key = start_dns(stack, work)
            signed["full"] = signed_messages("bench.test", key)
        if args.only != "peer":
            for config in configs:
                rm, note = bench_rongmail(phases, runs, args.reuse, args.timeout, config,
                                          dns=dns if config == "full" else None,
                                          signed=signed[config],
                                          workers=args.workers)  # fmt: skip
                if note:
                    print(note, flush=True)
                    notes.append(f"[{config}] {note}")
                results["RongMail"] += rm
        if args.only != "rongmail":
            peer, note = bench_peer(
                phases,
                runs,
                args.reuse,
                args.timeout,
                args.peer_format,
                {c: signed[c] for c in configs},
            )
            results["peer"] = peer
    print()
    print(
        f"== smtp_throughput summary: median of {runs} run(s), {SIZE} B payload, "
        f"{'persistent' if args.reuse else 'one connection per message'}, "
        f"RongMail workers={args.workers} =="
    )
    rows: list[list[Any]] = []
    rates: dict[tuple[str, str, int], float] = {}
    for config in configs:
        for key, rs in results.items():
            for ph in phases:
                sel = [r for r in rs if r.phase == ph and r.config == config]
                if not sel:
                    continue
                lat = [x for r in sel for x in r.latencies_ms]
                rate = median(r.rate for r in sel)
                rates[(config, key, ph.sessions)] = rate
                timed = sel[0].all_timed or ph.sessions > 1
                lat_note = (
                    "p50/p99 all txns"
                    if sel[0].all_timed
                    else "p50/p99 probe"
                    if ph.sessions > 1
                    else "mean"
                )
                rows.append(
                    [
                        config,
                        sel[0].target,
                        ph.sessions,
                        ph.messages,
                        fmt(rate, ".0f"),
                        fmt(median(r.seconds for r in sel), ".1f"),
                        f"{fmt(percentile(lat, 50), '.1f')}/{fmt(percentile(lat, 99), '.1f')}"
                        if timed
                        else fmt(median(lat), ".1f"),
                        lat_note,
                        "; ".join(r.error for r in sel if r.error)[:60] or "-",
                    ]
                )
    if args.only != "peer" and not results["RongMail"]:
        rows.append(["-", "RongMail", "-", "-", "n/a", "n/a", "n/a", "", "not available"])
    print(
        table(
            [
                "config",
                "system",
                "sessions",
                "messages",
                "msg/s",
                "seconds",
                "txn latency ms",
                "latency",
                "errors",
            ],
            rows,
        )
    )
    for config in configs:
        for ph in phases:
            a = rates.get((config, "RongMail", ph.sessions))
            b = rates.get((config, "peer", ph.sessions))
            print(
                f"ratio RongMail/peer [{config}] at {ph.sessions} session(s): "
                f"{ratio(a, b) if a is not None and b is not None else 'n/a'}"
            )
    for n in notes:
        print(n)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as e:
        print(f"harness error: {e}", file=sys.stderr)
        sys.exit(2)
