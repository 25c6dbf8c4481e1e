"""TREC immediate-feedback evaluation of the RongMail content classifier (and optional peers).

Protocol (Cormack & Lynam, TREC 2005-2007 spam track): messages are taken in index order; each is
first classified (a score is recorded), then the filter learns its true label. The scores give

* ``(1-AUC)%``: 100 x the area above the ROC curve (lower is better; TREC's headline figure);
* ``caught@0.1%``: the share of spam scored above the threshold that misfiles at most 0.1 % of
  the ham (spam recall at 0.1 % false-positive rate);
* ``ms/msg``: the median CPU time per message of the filter (features + score + learn), and
  separately the median CPU time of MIME parsing (which the server does once per message anyway).

Data: ``../shared/data/{trec06c_subset,trec07p_half,spamassassin}`` tarballs, unpacked once into
``--work`` (default ``/tmp/rongmail-spam-eval``). The corpora are evaluation-only: nothing learned
here is saved. With ``--peers``, SpamAssassin (spamd + spamc) and rspamd (rspamc) are run the same
online way on a fixed sample (every k-th message, ``--peer-sample`` messages per corpus), and the
RongMail figures are also given on that sample (``--sample-only``: those alone, no peers).

Usage: ``python bench/spam_eval.py [--corpus NAME ...] [--limit N] [--orders N] [--peers
[--peer NAME]] [--peer-sample N] [--sample-only] [--diagnose]``

``--orders N`` (shuffled corpora only, i.e. SpamAssassin) also runs the corpus in ``N - 1`` further
fixed pseudo-random orders (sha256 of ``"<k>:" + file name``, k = 1..N-1; order 0 is the default
one) and prints one row per order plus their mean, min and max. With 3,113 ham, caught@0.1 % is
set by the 4th-highest ham score, so it moves by several points with the order alone (issue 9):
a change to the model should be judged on the mean over orders, not on order 0.

``--diagnose`` adds, after the table, where RongMail's full-run loss comes from (issue 9), from
stream positions, scores and counts only (no message text, addresses or domains): the hams that
set the 0.1 % threshold, each with its stream position, score and how many earlier messages of the
stream came from the same ``From`` domain (0: the tenant's first mail from that sender, which an
online learner cannot have learned); spam recall at 0.1/0.2/0.5/1/2 % ham lost; and the spam
scored at or below the threshold per stream-position bucket (cold start vs. later).

Peers (``--peers``; Debian packages ``spamassassin``/``spamc``/``spamd`` and ``rspamd``, installed
with ``apt-get`` through ``tests/peers/apt.py`` when missing). For every corpus the bench starts a
fresh private instance of each on loopback (free ports, config and databases under ``--work``),
runs the sample through it online, and stops it by pid:

* SpamAssassin: ``spamd -L -x --allow-tell`` (local tests only, no per-user config) with a
  private ``--siteconfigpath`` (the stock ``*.pre`` files plus ``use_bayes 1``,
  ``bayes_auto_learn 0``, ``bayes_min_ham_num 20``, ``bayes_min_spam_num 20``,
  ``skip_rbl_checks 1`` and a private ``bayes_path``); scored with ``spamc -c`` (one decimal, so
  ties cost it some AUC) and trained with ``spamc -L spam|ham``.
* rspamd: the stock ``/etc/rspamd/rspamd.conf`` with a private ``LOCAL_CONFDIR``: the Bayes
  classifier on the running Redis (``--redis``, database ``--redis-db``, flushed before and after
  each corpus), ``autolearn = false``, ``min_learns = 20``; the modules that need the network
  or Redis state other than Bayes (RBL/SURBL, SPF, DKIM, DMARC, ARC, ASN, fuzzy, DCC, neural,
  reputation, rate limits, greylisting, replies, history, MX check, updates) are disabled, the
  counterpart of SpamAssassin's ``-L``. Scored with ``rspamc symbols`` (the total score), trained
  with ``rspamc learn_spam|learn_ham`` on the controller (rspamd's stock ``learn_condition``
  applies: it refuses to learn a message its Bayes already puts in that class with probability
  >= 95 %).

Peer times are wall-clock per message (scan + learn, including process start of the client), so
they are not comparable with RongMail's CPU time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from benchlib import HarnessError, free_port

from rongmail.actions.spam import MODEL_BITS
from rongmail.services.spam.classifier import ContentModel
from rongmail.services.spam.message import parse

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPORA = {
    "trec06c": ("trec06c_subset", "trec06c_subset_shared"),
    "trec07p": ("trec07p_half", "trec07p_half_shared"),
    "spamassassin": ("spamassassin", "spamassassin_shared"),
}
#: Corpora whose index is grouped by class rather than chronological: they are fed in a fixed
#: pseudo-random order (sha256 of the file name), the usual practice for the SpamAssassin corpus.
SHUFFLED = {"spamassassin"}


def shuffled(items: list[tuple[Path, bool]], order: int = 0) -> list[tuple[Path, bool]]:
    """``items`` in fixed pseudo-random order number ``order`` (0: sha256 of the file name, the
    bench's default order; k > 0: sha256 of ``"<k>:" + file name``)."""
    salt = f"{order}:".encode() if order else b""
    return sorted(items, key=lambda it: hashlib.sha256(salt + it[0].name.encode()).digest())


def unpack(data: Path, work: Path, name: str) -> Path:
    folder, stem = CORPORA[name]
    dest = work / stem
    if not (dest / "full" / "index").exists():
        work.mkdir(parents=True, exist_ok=True)
        tarball = data / folder / f"{stem}.tar.zst"
        if not tarball.exists():
            sys.exit(f"missing {tarball}: is ../shared/data present?")
        subprocess.run(f"zstd -dc '{tarball}' | tar x -C '{work}'", shell=True, check=True)
    return dest


def load_index(root: Path) -> list[tuple[Path, bool]]:
    out = []
    for line in (root / "full" / "index").read_text().splitlines():
        lab, rel = line.split()
        out.append(((root / "full" / rel).resolve(), lab == "spam"))
    return out


def one_minus_auc_pct(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """100 x (1 - AUC) by the Mann-Whitney statistic, ties counted half."""
    pairs = sorted(zip(scores, labels, strict=True), key=lambda x: x[0])
    n_spam = sum(labels)
    n_ham = len(labels) - n_spam
    if not n_spam or not n_ham:
        return float("nan")
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg_rank = (i + j + 1) / 2.0  # ranks are 1-based
        rank_sum += avg_rank * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    auc = (rank_sum - n_spam * (n_spam + 1) / 2.0) / (n_spam * n_ham)
    return 100.0 * (1.0 - auc)


def caught_at_fpr(scores: Sequence[float], labels: Sequence[bool], fpr: float = 0.001) -> float:
    """Share of spam scored strictly above the (floor(fpr x n_ham)+1)-th highest ham score."""
    ham = sorted((s for s, y in zip(scores, labels, strict=True) if not y), reverse=True)
    spam = [s for s, y in zip(scores, labels, strict=True) if y]
    if not ham or not spam:
        return float("nan")
    k = int(fpr * len(ham))
    thr = ham[k] if k < len(ham) else float("-inf")
    return sum(1 for s in spam if s > thr) / len(spam)


Row = dict[str, object]

#: Ham-loss rates of the ``--diagnose`` recall line.
DIAG_FPRS = (0.001, 0.002, 0.005, 0.01, 0.02)
#: Stream-position bucket edges of the ``--diagnose`` miss histogram.
DIAG_EDGES = (0, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)


def diagnose(
    scores: Sequence[float], labels: Sequence[bool], senders: Sequence[str], *, top: int = 10
) -> list[str]:
    """Where the loss at 0.1 % ham lost comes from: text lines without message content.

    ``senders`` are opaque per-message sender keys (the ``From`` domain), used only to count how
    many earlier messages of the stream share each one; they are never printed.
    """
    n_ham = sum(1 for y in labels if not y)
    n_spam = len(labels) - n_ham
    if not n_ham or not n_spam:
        return ["diagnose: needs both ham and spam"]
    seen: dict[str, int] = {}
    earlier: list[int] = []
    for key in senders:
        earlier.append(seen.get(key, 0) if key else -1)
        if key:
            seen[key] = seen.get(key, 0) + 1
    hams = sorted((i for i, y in enumerate(labels) if not y), key=lambda i: -scores[i])
    k = int(0.001 * n_ham)
    thr = scores[hams[k]] if k < len(hams) else float("-inf")
    out = [f"threshold at 0.1% ham lost: score {thr:.3f} (ham #{k + 1} of {n_ham} by score)"]
    for rank, i in enumerate(hams[:top], 1):
        prior = "no From domain" if earlier[i] < 0 else f"{earlier[i]} earlier from its domain"
        out.append(f"  ham #{rank}: position {i}, score {scores[i]:.3f}, {prior}")
    first = sum(1 for i in hams[:top] if earlier[i] == 0)
    out.append(f"  {first} of the top {min(top, n_ham)} hams are the first mail from their domain")
    recall = "  ".join(
        f"{100 * f:g}%: {100 * caught_at_fpr(scores, labels, f):.2f}%" for f in DIAG_FPRS
    )
    out.append(f"spam caught at ham lost {recall}")
    buckets = []
    for lo, hi in zip(DIAG_EDGES, (*DIAG_EDGES[1:], len(labels)), strict=True):
        if lo >= len(labels):
            break
        spam = [i for i in range(lo, min(hi, len(labels))) if labels[i]]
        missed = sum(1 for i in spam if scores[i] <= thr)
        buckets.append(f"[{lo},{min(hi, len(labels))}) {missed}/{len(spam)}")
    out.append("spam missed / spam, by stream position: " + "  ".join(buckets))
    return out


def run_rongmail(
    items: list[tuple[Path, bool]], bits: int = MODEL_BITS, *, diag: bool = False
) -> Row:
    """The immediate-feedback run; with ``diag``, the row also has ``diagnose`` lines."""
    model = ContentModel(bits=bits)
    scores: list[float] = []
    labels: list[bool] = []
    senders: list[str] = []
    t_parse: list[int] = []
    t_filter: list[int] = []
    clock = time.process_time_ns
    for path, is_spam in items:
        raw = path.read_bytes()
        t0 = clock()
        msg = parse(raw)
        t1 = clock()
        feats = model.features(msg)
        scores.append(model.logit(feats))
        model.learn(feats, is_spam)
        t2 = clock()
        labels.append(is_spam)
        t_parse.append(t1 - t0)
        t_filter.append(t2 - t1)
        if diag:  # outside the timed region
            senders.append(msg.from_[0].email.rpartition("@")[2].lower() if msg.from_ else "")
    row: Row = {
        "n": len(items),
        "1-AUC%": one_minus_auc_pct(scores, labels),
        "caught@0.1%": caught_at_fpr(scores, labels),
        "ms/msg": statistics.median(t_filter) / 1e6,
        "parse ms": statistics.median(t_parse) / 1e6,
    }
    if diag:
        row["diagnose"] = diagnose(scores, labels, senders)
    return row


class Peer(ABC):
    """A private spam filter daemon on loopback, started per corpus and stopped by pid.

    ``score(raw)`` returns the daemon's total score (higher = more spam); ``learn(raw, spam)``
    trains its Bayes store. Subclasses write their config under ``root`` in ``_configure``.
    """

    name = ""
    packages: tuple[str, ...] = ()
    startup = 60.0

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "daemon.log"

    def __enter__(self) -> Peer:
        from peers import PeerUnavailable
        from peers.apt import ensure

        try:
            ensure(self.packages)
        except PeerUnavailable as e:
            raise HarnessError(f"{self.name}: {e}") from e
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        argv = self._configure()
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=self.root, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + self.startup
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                tail = self.log.read_bytes()[-800:].decode(errors="replace")
                raise HarnessError(f"{self.name} did not start: {tail}")
            time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        from peers import stop_process

        stop_process(self.proc)
        self.proc = None

    @abstractmethod
    def _configure(self) -> list[str]: ...

    @abstractmethod
    def _ready(self) -> bool: ...

    @abstractmethod
    def score(self, raw: bytes) -> float: ...

    @abstractmethod
    def learn(self, raw: bytes, is_spam: bool) -> None: ...


def _as_user(user: str) -> list[str]:
    """``-u user``-style privilege drop arguments when running as root (daemons refuse root)."""
    return [user] if os.geteuid() == 0 else []


def _chown_tree(root: Path, user: str) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", f"{user}:", str(root)], check=True)


class SpamdPeer(Peer):
    """SpamAssassin's spamd with a private site config and Bayes store (see module docstring)."""

    name = "SpamAssassin"
    packages = ("spamassassin", "spamc", "spamd")
    startup = 120.0
    user = "nobody"

    def _configure(self) -> list[str]:
        site = self.root / "site"
        site.mkdir()
        for pre in Path("/etc/spamassassin").glob("*.pre"):
            shutil.copy(pre, site / pre.name)
        (self.root / "bayes").mkdir()
        (site / "local.cf").write_text(
            "use_bayes 1\nbayes_auto_learn 0\nbayes_min_ham_num 20\nbayes_min_spam_num 20\n"
            f"skip_rbl_checks 1\nbayes_path {self.root}/bayes/bayes\nbayes_file_mode 0770\n"
        )
        _chown_tree(self.root, self.user)
        self.port = str(free_port("127.0.0.1"))
        self.base = ["spamc", "-d", "127.0.0.1", "-p", self.port]
        user = _as_user(self.user)
        return ["spamd", "-L", "-x", "--allow-tell", "-i", "127.0.0.1", "-p", self.port,
                "-A", "127.0.0.1", "--siteconfigpath", str(site), "--max-children", "1",
                "-s", "stderr", *(["-u", *user] if user else [])]  # fmt: skip

    def _ready(self) -> bool:
        return subprocess.run([*self.base, "-K"], capture_output=True).returncode == 0

    def score(self, raw: bytes) -> float:
        out = subprocess.run([*self.base, "-c"], input=raw, capture_output=True).stdout
        try:
            return float(out.decode().split("/")[0])
        except ValueError:
            return 0.0

    def learn(self, raw: bytes, is_spam: bool) -> None:
        cmd = [*self.base, "-L", "spam" if is_spam else "ham"]
        subprocess.run(cmd, input=raw, capture_output=True)


#: rspamd modules that need the network or non-Bayes Redis state: off, like spamd's ``-L``.
class RspamdPeer(Peer):
    """rspamd with a private LOCAL_CONFDIR and its Bayes in one Redis database (see docstring);
    the daemon itself is ``tests/peers/rspamd.py`` (also used by the live tests)."""

    name = "rspamd"

    def __init__(self, root: Path, redis: str, db: int) -> None:
        from peers.rspamd import Rspamd

        super().__init__(root)
        self.daemon = Rspamd(root, redis=redis, redis_db=db)

    def __enter__(self) -> Peer:
        from peers import PeerUnavailable

        try:
            self.daemon.start()
        except PeerUnavailable as e:
            raise HarnessError(f"{self.name}: {e}") from e
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.stop()

    def _configure(self) -> list[str]:  # the daemon configures itself
        return []

    def _ready(self) -> bool:
        return self.daemon.ready()

    def score(self, raw: bytes) -> float:
        out = subprocess.run(["rspamc", "-h", self.daemon.normal, "symbols"], input=raw,
                             capture_output=True)  # fmt: skip
        for line in out.stdout.decode(errors="replace").splitlines():
            if line.startswith("Score:"):
                try:
                    return float(line.split()[1])
                except (IndexError, ValueError):
                    return 0.0
        return 0.0

    def learn(self, raw: bytes, is_spam: bool) -> None:
        cmd = ["rspamc", "-h", self.daemon.controller, "learn_spam" if is_spam else "learn_ham"]
        subprocess.run(cmd, input=raw, capture_output=True)


def run_peer(items: list[tuple[Path, bool]], peer: Peer) -> Row:
    scores, labels, times = [], [], []
    for path, is_spam in items:
        raw = path.read_bytes()
        t0 = time.perf_counter()
        scores.append(peer.score(raw))
        peer.learn(raw, is_spam)
        times.append(time.perf_counter() - t0)
        labels.append(is_spam)
    return {
        "n": len(items),
        "1-AUC%": one_minus_auc_pct(scores, labels),
        "caught@0.1%": caught_at_fpr(scores, labels),
        "ms/msg": statistics.median(times) * 1e3,
        "parse ms": float("nan"),
    }


def orders_summary(rows: Sequence[Row]) -> str:
    """Mean, min and max of (1-AUC)% and caught@0.1% over the rows of one corpus's orders."""
    parts = []
    for key, scale, prec in (("1-AUC%", 1.0, 4), ("caught@0.1%", 100.0, 2)):
        vals = [scale * float(r[key]) for r in rows]  # type: ignore[arg-type]
        parts.append(f"{key} mean {statistics.fmean(vals):.{prec}f} "
                     f"(min {min(vals):.{prec}f}, max {max(vals):.{prec}f})")  # fmt: skip
    return "; ".join(parts)


def fmt(name: str, corpus: str, row: Row) -> str:
    return (
        f"| {corpus:<13} | {name:<22} | {row['n']:>6} | {row['1-AUC%']:>8.4f} | "
        f"{100 * float(row['caught@0.1%']):>9.2f}% | {row['ms/msg']:>7.3f} | "  # type: ignore[arg-type]
        f"{row['parse ms']:>8.3f} |"
    )


def sample_of(items: list[tuple[Path, bool]], n: int) -> list[tuple[Path, bool]]:
    """Every k-th message, ``n`` at most: the fixed sample all filters see in ``--peers``."""
    step = max(1, len(items) // n)
    return items[::step][:n]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", action="append", choices=sorted(CORPORA))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=Path("/tmp/rongmail-spam-eval"))
    ap.add_argument("--limit", type=int, default=0, help="first N messages of each corpus")
    ap.add_argument(
        "--bits",
        type=int,
        default=MODEL_BITS,
        help=f"hashed feature space of the model (default {MODEL_BITS}, as the server)",
    )
    ap.add_argument("--orders", type=int, default=1,
                    help="shuffled corpora: run in N fixed orders, print each and the mean")  # fmt: skip
    ap.add_argument("--peers", action="store_true", help="also start and run spamd and rspamd")
    ap.add_argument("--peer", action="append", choices=["spamassassin", "rspamd"],
                    help="only these peers (default: both)")  # fmt: skip
    ap.add_argument("--peer-sample", type=int, default=1000, help="sample size per corpus")
    ap.add_argument("--sample-only", action="store_true",
                    help="run RongMail on the peer sample only (no full run, no peers)")  # fmt: skip
    ap.add_argument("--diagnose", action="store_true",
                    help="after the table: where the loss at 0.1%% ham lost comes from")  # fmt: skip
    ap.add_argument("--redis", default="127.0.0.1:6379", help="Redis for rspamd's Bayes")
    ap.add_argument("--redis-db", type=int, default=13, help="Redis database (flushed!)")
    args = ap.parse_args(argv)
    corpora = args.corpus or ["trec06c", "trec07p", "spamassassin"]
    print(
        "| corpus        | filter                 |   msgs |  (1-AUC)% | caught@0.1%FP "
        "| ms/msg | parse ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    notes: list[str] = []
    for corpus in corpora:
        items = load_index(unpack(args.data, args.work, corpus))
        every = items
        if corpus in SHUFFLED:
            items = shuffled(every)
        if args.limit:
            items = items[: args.limit]
        if not args.sample_only:
            row = run_rongmail(items, args.bits, diag=args.diagnose)
            print(fmt("RongMail LR", corpus, row), flush=True)
            lines = row.get("diagnose")
            if isinstance(lines, list):
                notes.extend(f"{corpus}: {line}" for line in lines)
            if corpus in SHUFFLED and args.orders > 1:
                rows = [row]
                for k in range(1, args.orders):
                    more = shuffled(every, k)[: args.limit or None]
                    rows.append(run_rongmail(more, args.bits))
                    print(fmt(f"RongMail LR (order {k})", corpus, rows[-1]), flush=True)
                notes.append(f"{corpus}: over {len(rows)} orders " + orders_summary(rows))
        if not (args.peers or args.sample_only):
            continue
        sample = sample_of(items, args.peer_sample)
        print(fmt("RongMail LR (sample)", corpus, run_rongmail(sample, args.bits)), flush=True)
        if args.sample_only:
            continue
        wanted = args.peer or ["spamassassin", "rspamd"]
        peers: list[Peer] = []
        if "spamassassin" in wanted:
            peers.append(SpamdPeer(args.work / "peer-spamd"))
        if "rspamd" in wanted:
            peers.append(RspamdPeer(args.work / "peer-rspamd", args.redis, args.redis_db))
        for peer in peers:
            try:
                with peer:
                    row = run_peer(sample, peer)
            except HarnessError as e:
                print(f"spam_eval: {e}", file=sys.stderr)
                return 2
            print(fmt(f"{peer.name} (sample)", corpus, row), flush=True)
    if notes:
        print("\n" + "\n".join(notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
