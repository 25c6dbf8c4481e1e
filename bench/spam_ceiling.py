"""Batch ceiling of the RongMail content classifier on the SpamAssassin corpus (issue 9).

``spam_eval.py`` measures the TREC immediate-feedback protocol: every message is scored by a
model that has seen only the messages before it, so part of its loss is the online cold start.
This script measures how far the same model (``ContentModel``, the same features and bits) gets
when that cold start is taken away, to tell whether it or the feature family and the data limit
spam caught at 0.1 % ham lost:

* ``online``: the plain immediate-feedback run in order 0, as ``spam_eval.py`` (reference);
* ``CV K-fold, E epochs``: folds by order-0 stream position modulo K; for each fold a fresh model
  learns the other K-1 folds for E epochs (epoch e in fixed order e-1 of ``spam_eval.shuffled``;
  order 0 for the first), then scores the held-out fold; the held-out scores of all folds are
  pooled (so every message is scored once, by a model trained on (K-1)/K of the corpus);
* ``warm X->Y`` / ``cold Y``: the corpus split into the first and second half of order 0 (A, B);
  ``warm A->B`` learns A (1 epoch) and then runs B online, ``cold B`` runs B online from an empty
  model. ``warm A->B`` equals the second half of the ``online`` run (learning A in order is what
  the online run does before it reaches B). A half has ~1,556 ham, so 0.1 % there is the 2nd
  highest ham score (one ham lost), against the 4th of 3,113 on the whole corpus.

Figures: (1-AUC)% and spam caught at 0.1/0.2/0.5/1 % ham lost (``spam_eval.caught_at_fpr``).
After the table, the SpamAssassin group (easy_ham, easy_ham_2, hard_ham; from the corpus's
``manifest.csv``) of the 10 highest-scored hams of each run, as counts only.

Every message is parsed and its features extracted once, in memory. The corpus is
evaluation-only: nothing learned is saved, and no message text or address is printed.

Usage: ``python bench/spam_ceiling.py [--folds K] [--epochs 1,3] [--bits B]`` (about 20 s; ``--epochs 1,3,10`` about 75 s)
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from spam_eval import DATA, caught_at_fpr, load_index, one_minus_auc_pct, shuffled, unpack

from rongmail.actions.spam import MODEL_BITS
from rongmail.services.spam.classifier import ContentModel
from rongmail.services.spam.features import Indices
from rongmail.services.spam.message import parse

CORPUS = "spamassassin"
FPRS = (0.001, 0.002, 0.005, 0.01)
TOP = 10


def learn_all(model: ContentModel, feats: Sequence[Indices], labels: Sequence[bool],
              seq: Sequence[int]) -> None:  # fmt: skip
    for i in seq:
        model.learn(feats[i], labels[i])


def online(model: ContentModel, feats: Sequence[Indices], labels: Sequence[bool],
           seq: Sequence[int]) -> list[float]:  # fmt: skip
    """Immediate feedback over ``seq``: score each message, then learn its label."""
    scores = []
    for i in seq:
        scores.append(model.logit(feats[i]))
        model.learn(feats[i], labels[i])
    return scores


def cross_validate(feats: Sequence[Indices], labels: Sequence[bool], orders: Sequence[list[int]],
                   folds: int, epochs: Sequence[int], bits: int) -> dict[int, list[float]]:  # fmt: skip
    """Pooled held-out logits per epoch count in ``epochs`` (one training run per fold)."""
    n = len(labels)
    out = {e: [0.0] * n for e in epochs}
    for f in range(folds):
        model = ContentModel(bits=bits)
        held = range(f, n, folds)
        for e in range(1, max(epochs) + 1):
            learn_all(model, feats, labels, [i for i in orders[e - 1] if i % folds != f])
            if e in out:
                for i in held:
                    out[e][i] = model.logit(feats[i])
    return out


def row(name: str, scores: Sequence[float], labels: Sequence[bool]) -> str:
    n_ham = sum(1 for y in labels if not y)
    caught = " | ".join(f"{100 * caught_at_fpr(scores, labels, f):6.2f}%" for f in FPRS)
    return (f"| {name:<20} | {len(labels):>5} | {n_ham:>5} | "
            f"{one_minus_auc_pct(scores, labels):>8.4f} | {caught} |")  # fmt: skip


def top_ham_groups(name: str, scores: Sequence[float], labels: Sequence[bool],
                   groups: Sequence[str]) -> str:  # fmt: skip
    """Group counts of the TOP highest-scored hams and of those that set the 0.1 % threshold."""
    hams = sorted((i for i, y in enumerate(labels) if not y), key=lambda i: -scores[i])
    k = int(0.001 * len(hams)) + 1  # the hams at or above the 0.1 % threshold
    top = Counter(groups[i] for i in hams[:TOP])
    thr = Counter(groups[i] for i in hams[:k])
    return (f"{name}: top {TOP} hams by score: "
            + ", ".join(f"{g} {c}" for g, c in sorted(top.items()))
            + f"; top {k} (set the 0.1% threshold): "
            + ", ".join(f"{g} {c}" for g, c in sorted(thr.items())))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=Path("/tmp/rongmail-spam-eval"))
    ap.add_argument("--folds", type=int, default=10, help="K of the K-fold run (default 10)")
    ap.add_argument("--epochs", default="1,3", help="epoch counts to report (default 1,3)")
    ap.add_argument("--bits", type=int, default=MODEL_BITS, help=f"default {MODEL_BITS}")
    args = ap.parse_args(argv)
    epochs = sorted({int(e) for e in args.epochs.split(",")})
    t0 = time.monotonic()
    root = unpack(args.data, args.work, CORPUS)
    every = load_index(root)
    items = shuffled(every)  # order 0: index i below is the order-0 stream position
    pos = {path: i for i, (path, _) in enumerate(items)}
    orders = [[pos[p] for p, _ in shuffled(every, k)] for k in range(max(epochs))]
    labels = [y for _, y in items]
    with (root / "manifest.csv").open(newline="") as fh:
        group_of = {Path(r["id"]).name: r["group"] for r in csv.DictReader(fh)}
    groups = [group_of.get(p.name, "?") for p, _ in items]
    extractor = ContentModel(bits=args.bits)
    feats = [extractor.features(parse(p.read_bytes())) for p, _ in items]
    t_feat = time.monotonic() - t0

    runs: list[tuple[str, list[float], list[bool], list[str]]] = []
    n = len(items)
    full = online(ContentModel(bits=args.bits), feats, labels, range(n))
    runs.append(("online (order 0)", full, labels, groups))
    cv = cross_validate(feats, labels, orders, args.folds, epochs, args.bits)
    for e in epochs:
        runs.append((f"CV {args.folds}-fold, E={e}", cv[e], labels, groups))
    half_a, half_b = list(range(n // 2)), list(range(n // 2, n))
    for name, train, test in (("A->B", half_a, half_b), ("B->A", half_b, half_a)):
        warm = ContentModel(bits=args.bits)
        learn_all(warm, feats, labels, train)
        sub_l, sub_g = [labels[i] for i in test], [groups[i] for i in test]
        runs.append((f"warm {name}", online(warm, feats, labels, test), sub_l, sub_g))
        cold = online(ContentModel(bits=args.bits), feats, labels, test)
        runs.append((f"cold {name[-1]}", cold, sub_l, sub_g))

    print(f"corpus {CORPUS}: {n} messages, {n - sum(labels)} ham; bits {args.bits}")
    print(
        "| run                  |  msgs |   ham | (1-AUC)% | caught@0.1% |   @0.2% |   @0.5% "
        "|     @1% |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, scores, labs, _ in runs:
        print(row(name, scores, labs))
    ham_groups = Counter(g for g, y in zip(groups, labels, strict=True) if not y)
    print("\nham by group: " + ", ".join(f"{g} {c}" for g, c in sorted(ham_groups.items())))
    for name, scores, labs, grps in runs:
        print(top_ham_groups(name, scores, labs, grps))
    print(f"\nparse + features {t_feat:.0f} s; total {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
