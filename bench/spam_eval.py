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
here is saved. With ``--peers``, SpamAssassin (spamd/spamc + sa-learn) and rspamd (rspamc) are run
the same online way on a fixed sample (every k-th message, ``--peer-sample`` messages per corpus),
and the RongMail figures are also given on that sample.

Usage: ``python bench/spam_eval.py [--corpus NAME ...] [--limit N] [--peers]``

Peers (Debian packages, offline, loopback only). SpamAssassin: ``spamd -L -x --allow-tell`` with a
site config adding ``use_bayes 1``, ``bayes_auto_learn 0``, ``bayes_min_ham_num 20``,
``bayes_min_spam_num 20``, ``skip_rbl_checks 1``; scored with ``spamc -c`` (one decimal, so
ties cost it some AUC) and trained with ``spamc -L spam|ham``. rspamd: stock configuration with
the Bayes classifier on a private Redis, ``autolearn = false``, ``min_learns = 20``; scored with
``rspamc symbols``, trained with ``rspamc learn_spam|learn_ham``. ``--peer-reset CMD`` empties
both Bayes databases before each corpus. Peer times are wall-clock per message (scan + learn,
including process start of the client), so they are not comparable with RongMail's CPU time.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

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


def run_rongmail(items: list[tuple[Path, bool]]) -> Row:
    model = ContentModel()
    scores: list[float] = []
    labels: list[bool] = []
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
    return {
        "n": len(items),
        "1-AUC%": one_minus_auc_pct(scores, labels),
        "caught@0.1%": caught_at_fpr(scores, labels),
        "ms/msg": statistics.median(t_filter) / 1e6,
        "parse ms": statistics.median(t_parse) / 1e6,
    }


Peer = tuple[Callable[[bytes], float], Callable[[bytes, bool], None]]


def run_peer(items: list[tuple[Path, bool]], peer: Peer) -> Row:
    score_fn, learn_fn = peer
    scores, labels, times = [], [], []
    for path, is_spam in items:
        raw = path.read_bytes()
        t0 = time.perf_counter()
        scores.append(score_fn(raw))
        learn_fn(raw, is_spam)
        times.append(time.perf_counter() - t0)
        labels.append(is_spam)
    return {
        "n": len(items),
        "1-AUC%": one_minus_auc_pct(scores, labels),
        "caught@0.1%": caught_at_fpr(scores, labels),
        "ms/msg": statistics.median(times) * 1e3,
        "parse ms": float("nan"),
    }


def _hostport(spec: str) -> tuple[str, str]:
    host, _, port = spec.rpartition(":")
    return host, port


def spamassassin_peer(spamd: str) -> Peer | None:
    """spamc against a running ``spamd --allow-tell`` (learning through ``spamc -L``).

    Scores are wall time including the loopback round trip; SpamAssassin reports one decimal.
    """
    if not shutil.which("spamc"):
        return None
    host, port = _hostport(spamd)
    base = ["spamc", "-d", host, "-p", port]
    if subprocess.run([*base, "-K"], capture_output=True).returncode != 0:
        return None

    def score(raw: bytes) -> float:
        out = subprocess.run([*base, "-c"], input=raw, capture_output=True).stdout
        try:
            return float(out.decode().split("/")[0])
        except ValueError:
            return 0.0

    def learn(raw: bytes, is_spam: bool) -> None:
        subprocess.run([*base, "-L", "spam" if is_spam else "ham"], input=raw, capture_output=True)

    return score, learn


def rspamd_peer(normal: str, controller: str) -> Peer | None:
    """rspamc against a running rspamd (scan on the normal worker, learn on the controller)."""
    if not shutil.which("rspamc"):
        return None
    if subprocess.run(["rspamc", "-h", controller, "stat"], capture_output=True).returncode:
        return None

    def score(raw: bytes) -> float:
        out = subprocess.run(["rspamc", "-h", normal, "symbols"], input=raw, capture_output=True)
        for line in out.stdout.decode(errors="replace").splitlines():
            if line.startswith("Score:"):
                try:
                    return float(line.split()[1])
                except (IndexError, ValueError):
                    return 0.0
        return 0.0

    def learn(raw: bytes, is_spam: bool) -> None:
        cmd = "learn_spam" if is_spam else "learn_ham"
        subprocess.run(["rspamc", "-h", controller, cmd], input=raw, capture_output=True)

    return score, learn


def fmt(name: str, corpus: str, row: Row) -> str:
    return (
        f"| {corpus:<13} | {name:<22} | {row['n']:>6} | {row['1-AUC%']:>8.4f} | "
        f"{100 * float(row['caught@0.1%']):>9.2f}% | {row['ms/msg']:>7.3f} | "  # type: ignore[arg-type]
        f"{row['parse ms']:>8.3f} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", action="append", choices=sorted(CORPORA))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=Path("/tmp/rongmail-spam-eval"))
    ap.add_argument("--limit", type=int, default=0, help="first N messages of each corpus")
    ap.add_argument("--peers", action="store_true", help="also run spamd and rspamd")
    ap.add_argument("--peer-sample", type=int, default=600)
    ap.add_argument("--spamd", default="127.0.0.1:783", help="spamd host:port")
    ap.add_argument("--rspamd", default="127.0.0.1:11333", help="rspamd normal worker")
    ap.add_argument("--rspamd-controller", default="127.0.0.1:11334")
    ap.add_argument(
        "--peer-reset",
        metavar="CMD",
        help="shell command run before each corpus to empty the peers' Bayes databases",
    )
    args = ap.parse_args(argv)
    corpora = args.corpus or ["trec06c", "trec07p", "spamassassin"]
    print(
        "| corpus        | filter                 |   msgs |  (1-AUC)% | caught@0.1%FP "
        "| ms/msg | parse ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for corpus in corpora:
        items = load_index(unpack(args.data, args.work, corpus))
        if corpus in SHUFFLED:
            items.sort(key=lambda it: hashlib.sha256(it[0].name.encode()).digest())
        if args.limit:
            items = items[: args.limit]
        print(fmt("RongMail LR", corpus, run_rongmail(items)), flush=True)
        if args.peers:
            step = max(1, len(items) // args.peer_sample)
            sample = items[::step][: args.peer_sample]
            print(fmt("RongMail LR (sample)", corpus, run_rongmail(sample)), flush=True)
            if args.peer_reset:
                subprocess.run(args.peer_reset, shell=True, check=True)
            peers = (
                ("SpamAssassin", spamassassin_peer(args.spamd)),
                ("rspamd", rspamd_peer(args.rspamd, args.rspamd_controller)),
            )
            for name, peer in peers:
                if peer is None:
                    print(f"| {corpus:<13} | {name:<22} | not running | | | | |")
                    continue
                print(fmt(f"{name} (sample)", corpus, run_peer(sample, peer)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
