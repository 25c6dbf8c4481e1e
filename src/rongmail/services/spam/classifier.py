"""Per-tenant online logistic regression over hashed features.

The model is the one that did best at the TREC spam tracks for its cost (Goodman & Yih 2006;
Cormack 2007, "Bogus-LR"): binary hashed features, a logistic link and one stochastic gradient
step per trained message, with no regularization; the step is per-feature (AdaGrad). It learns
online, so user actions (moving mail into or out of Junk over IMAP, JMAP or the webmail) are
just ``learn(features, is_spam)`` calls, and it needs no batch retraining.

Invariants:

* :meth:`ContentModel.score` returns the spam probability in ``(0, 1)``; it is *untrusted*
  model output (DESIGN.md rule 7): :func:`label` maps it to a closed set of labels, and only
  those labels become tags the policy scores.
* ``to_bytes``/``from_bytes`` round-trip exactly; the format is versioned, little-endian and
  zlib-compressed (level 1: a fresh model is a few kilobytes, but trained weights are dense
  floats that barely compress, so a trained model is about ``8 * 2**bits`` bytes: 8 MiB at the
  default ``bits=20``, ~0.3 s to serialize, off the event loop; ``bits=18`` gives 2 MiB and
  nearly the same accuracy for small tenants).
  Unknown versions raise :class:`ValueError`. The header also records the
  :data:`~.features.FEATURE_SET` the weights were learned on: a model from an older format or
  from a feature set outside :data:`~.features.COMPATIBLE_FEATURE_SETS` raises
  :class:`StaleModel` (a ``ValueError``), and the caller starts the tenant afresh
  (``actions/spam.py: SpamModels.get``), since its weights would index other features. A model
  of a compatible older set is read as it is and saved under the current set.
* No model trained on any corpus ships with RongMail: every tenant starts empty and learns from
  its own users.
"""

from __future__ import annotations

import enum
import math
import struct
import zlib

import numpy as np
import numpy.typing as npt

from rongmail.mime.model import ParsedMessage

from .features import COMPATIBLE_FEATURE_SETS, FEATURE_SET, Indices, extract

__all__ = ["ContentModel", "ContentLabel", "StaleModel", "label"]

_MAGIC = b"RMLR"
#: Format 1 had no feature-set byte (feature set 1); format 2 adds it.
_VERSION = 2
#: magic, version, bits, feature set, pad, learning rate, AdaGrad epsilon, n_spam, n_ham
_HEAD = struct.Struct("<4sBBBxddQQ")


class StaleModel(ValueError):
    """A stored model from an older format or feature set: start the tenant's model afresh."""


class ContentLabel(enum.StrEnum):
    """The closed set of labels the content model's output maps to."""

    UNTRAINED = "BAYES_UNTRAINED"
    HAM = "BAYES_HAM"
    UNSURE = "BAYES_UNSURE"
    SPAM_LOW = "BAYES_SPAM_LOW"
    SPAM_MID = "BAYES_SPAM_MID"
    SPAM_HIGH = "BAYES_SPAM_HIGH"


#: A tenant's model is used only once it has seen this many messages of each class.
MIN_TRAINED = 20


def label(p: float, *, trained: bool = True) -> ContentLabel:
    """Map a spam probability to a :class:`ContentLabel`. NaN or out-of-range input is UNSURE."""
    if not trained:
        return ContentLabel.UNTRAINED
    if not (0.0 <= p <= 1.0) or math.isnan(p):
        return ContentLabel.UNSURE
    if p < 0.2:
        return ContentLabel.HAM
    if p < 0.6:
        return ContentLabel.UNSURE
    if p < 0.9:
        return ContentLabel.SPAM_LOW
    if p < 0.99:
        return ContentLabel.SPAM_MID
    return ContentLabel.SPAM_HIGH


class ContentModel:
    """One tenant's classifier: ``2**bits`` float32 weights learned online.

    Each update is an AdaGrad step (Duchi, Hazan & Singer 2011): a feature's step size shrinks
    with the squared gradients it has already received, so rare tokens (a new spam campaign's
    wording, a first-time newsletter) move quickly while frequent ones settle. On the TREC
    corpora this beats a constant rate by 15-40 % in (1-AUC), at the cost of a second array.
    The AdaGrad floor ``eps`` is 0.001 (0.01 before feature set 2): with the many binary
    features of a message, a smaller floor makes a feature's first steps close to sign steps,
    which measured better on the SpamAssassin corpus (``bench/spam_eval.py``).
    """

    def __init__(self, bits: int = 20, rate: float = 0.003, eps: float = 0.001) -> None:
        if not 16 <= bits <= 26:
            raise ValueError("bits must be within 16..26")
        if not (rate > 0 and eps > 0):
            raise ValueError("rate and eps must be positive")
        self.bits = bits
        self.rate = float(rate)
        self.eps = float(eps)
        self.weights: npt.NDArray[np.float32] = np.zeros(1 << bits, dtype=np.float32)
        self.sq_grad: npt.NDArray[np.float32] = np.zeros(1 << bits, dtype=np.float32)
        self.n_spam = 0
        self.n_ham = 0

    @property
    def trained(self) -> bool:
        return self.n_spam >= MIN_TRAINED and self.n_ham >= MIN_TRAINED

    def features(self, msg: ParsedMessage) -> Indices:
        return extract(msg, self.bits)

    def logit(self, features: Indices) -> float:
        return float(self.weights[features].sum(dtype=np.float64))

    def score(self, features: Indices) -> float:
        """Spam probability of a message given its :meth:`features`."""
        z = self.logit(features)
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-min(z, 700.0)))
        e = math.exp(max(z, -700.0))
        return e / (1.0 + e)

    def learn(self, features: Indices, is_spam: bool) -> None:
        """One gradient step towards the true label (a user action or the TREC oracle)."""
        if is_spam:
            self.n_spam += 1
        else:
            self.n_ham += 1
        g = (1.0 if is_spam else 0.0) - self.score(features)
        acc = self.sq_grad[features] + np.float32(g * g)
        self.sq_grad[features] = acc
        self.weights[features] += np.float32(self.rate * g) / np.sqrt(acc + np.float32(self.eps))

    def to_bytes(self) -> bytes:
        head = _HEAD.pack(_MAGIC, _VERSION, self.bits, FEATURE_SET, self.rate, self.eps,
                          self.n_spam, self.n_ham)  # fmt: skip
        arrays = self.weights.astype("<f4").tobytes() + self.sq_grad.astype("<f4").tobytes()
        return head + zlib.compress(arrays, 1)

    @classmethod
    def from_bytes(cls, data: bytes) -> ContentModel:
        if len(data) < _HEAD.size:
            raise ValueError("content model: truncated")
        magic, version, bits, feature_set, rate, eps, n_spam, n_ham = _HEAD.unpack_from(data)
        if magic != _MAGIC or not 1 <= version <= _VERSION:
            raise ValueError("content model: unknown format")
        if version < _VERSION or feature_set not in COMPATIBLE_FEATURE_SETS:
            raise StaleModel(
                f"content model: format {version} / feature set {feature_set} is stale"
            )
        m = cls(bits, rate, eps)
        raw = zlib.decompress(data[_HEAD.size :])
        n = 4 << bits
        if len(raw) != 2 * n:
            raise ValueError("content model: bad weight vectors")
        m.weights = np.frombuffer(raw[:n], dtype="<f4").astype(np.float32)
        m.sq_grad = np.frombuffer(raw[n:], dtype="<f4").astype(np.float32)
        m.n_spam, m.n_ham = n_spam, n_ham
        return m
