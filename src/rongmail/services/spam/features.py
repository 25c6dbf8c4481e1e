"""Hashed features of a message for the content classifier.

A message becomes a sorted array of unique ``uint32`` feature indices in ``[0, 2**bits)``
(binary features, the "hashing trick"). Each zone is hashed with its own seed, so the same
string in a header and in the body are different features:

* **header n-grams**: the first :data:`MAX_HEADERS` top-level header lines as ``name:value``
  (value cut to :data:`HEADER_VALUE_CHARS` characters), as character n-grams,
  n = :data:`NGRAM_MIN`..:data:`NGRAM_MAX`;
* **body n-grams**: the subject and the best plain text (first :data:`BODY_CHARS` characters),
  plus the first :data:`HTML_CHARS` characters of the HTML source (its markup says a lot about
  bulk mailers), as character n-grams. Characters, not bytes: a Chinese character is one
  symbol, so its unigrams and bigrams act as words and no segmentation is needed. 1- and 2-grams
  of Latin text are sub-word noise (dropping them improved the SpamAssassin corpus figures), so
  below :data:`NGRAM_MIN` only runs of CJK characters give n-grams;
* **header tokens**: the words of every header value (first :data:`HEADER_TOKEN_CHARS`
  characters), prefixed by the field name (``from:example.com``, ``x-mailer:outlook``,
  ``received:194.125.145.45``), the tokens SpamAssassin's and Bogofilter's Bayes learn from.
  Each token is hashed :data:`HEADER_TOKEN_COPIES` times (independent seeds), which gives this
  zone that many times the say of one binary feature (see :func:`header_token_features`);
* **subject**: the subject's character n-grams and words once more in zones of their own (it
  is also the first line of the body text), so that its wording is learned apart from the body;
* **body tokens**: the words of the subject and plain text (first :data:`TOKEN_CHARS`
  characters) and their *orthogonal sparse bigrams* (OSB, Siefkes et al. 2004, as in
  CRM114/OSBF-Lua and rspamd): every pair of words at distance 1..:data:`OSB_WINDOW`, with the
  distance part of the feature;
* **structure**: tokens such as MIME types, attachment extensions, parser defects, URL counts.

Hashing is deterministic across processes and Python versions (no ``hash()``): a 64-bit
polynomial over code points for n-grams, CRC-32 for tokens, each followed by a multiplicative
mix, so a model serialized by one node is valid on another. :data:`FEATURE_SET` names this
feature set; the classifier stores it, and a model learned on another feature set is not reused.
Everything is vectorized with NumPy (see ``bench/spam_eval.py`` for the CPU cost per message).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from rongmail.mime.model import ParsedMessage

__all__ = [
    "BODY_CHARS",
    "COMPATIBLE_FEATURE_SETS",
    "FEATURE_SET",
    "HTML_CHARS",
    "extract",
    "header_token_features",
    "header_tokens",
    "osb_hashes",
    "sorted_unique",
    "subject_features",
    "text_ngrams",
    "token_hashes",
    "words",
]

#: Version of the feature definitions below; bump it whenever an index would change meaning.
#: 3: header tokens hashed :data:`HEADER_TOKEN_COPIES` times; subject zones.
FEATURE_SET = 3
#: Stored feature sets whose indices keep their meaning under :data:`FEATURE_SET`: set 3 only
#: adds features to set 2 (copy 0 of a header token is set 2's index, the subject zones are
#: new), so a set-2 model is read as it is and its new features start from zero.
COMPATIBLE_FEATURE_SETS = frozenset({2, FEATURE_SET})

BODY_CHARS = 2500
HTML_CHARS = 1000
HEADER_VALUE_CHARS = 160
HEADER_TOKEN_CHARS = 300
MAX_HEADERS = 40
#: How many independent hashes each header token gets, i.e. its zone's weight against the
#: ~5,000 character n-grams of a message. Measured with ``bench/spam_eval.py`` (issue 9, tuned on
#: its corpora): on the SpamAssassin corpus, with the subject zones, 1, 2, 3, 5 and 8 copies gave
#: caught@0.1% 85.6, 86.1, 86.3, 86.6 and 86.6% (mean over six orders; feature set 2: 84.9%);
#: trec07p's (1-AUC)% was 0.0229 with 3 copies and 0.0238 with 5 (feature set 2: 0.0217).
HEADER_TOKEN_COPIES = 5
#: The subject's characters that give subject-zone features.
SUBJECT_CHARS = 300
NGRAM_MIN = 3
#: From here on (CJK radicals, ideographs, kana, hangul...) 1- and 2-grams are features too.
WIDE_CHAR = 0x2E80
NGRAM_MAX = 4
TOKEN_CHARS = 3000
OSB_WINDOW = 4

_P = np.uint64(0x100000001B3)  # FNV prime: polynomial base
_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio multiplier
_ZONE_HEADER = 0x51ED27
_ZONE_BODY = 0xB0D1E5
_ZONE_STRUCT = 0x57C7C7
_ZONE_HTOKEN = 0x4EAD70
_ZONE_WORD = 0xB0D770
_ZONE_SUBJECT = 0x5B7EC7
_ZONE_SUBJECT_WORD = 0x5B7EC8
#: Seed step between the copies of a header token (copy 0 uses the zone's own seed).
_COPY_SEED = 7919
_URL_RE = re.compile(r"https?://", re.I)
#: Words: runs of 2..24 letters or digits, runs of money and shouting punctuation, lone digits.
_WORD_RE = re.compile(r"[^\W_]{2,24}|[$!%?]+|\d+[.,]?\d*")
#: Header words keep the punctuation of addresses, host names and IP addresses.
_HWORD_RE = re.compile(r"[\w.$@%+-]{1,60}")

Indices = npt.NDArray[np.uint32]
Hashes = npt.NDArray[np.uint64]


def _codepoints(text: str) -> Hashes:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)


def _fold(h: Hashes, seed: int, bits: int) -> Indices:
    """Mix 64-bit hashes with ``seed`` and keep the top ``bits`` bits."""
    with np.errstate(over="ignore"):
        return (((h + np.uint64(seed)) * _MIX) >> np.uint64(64 - bits)).astype(np.uint32)


def text_ngrams(text: str, zone: int, bits: int) -> Indices:
    """Hashed character n-grams of ``text`` in ``zone`` (not deduplicated).

    n = :data:`NGRAM_MIN`..:data:`NGRAM_MAX`; n-grams shorter than :data:`NGRAM_MIN` are kept
    only when every character is CJK or wider (code point >= :data:`WIDE_CHAR`), where one or two
    characters already make a word.
    """
    if not text:
        return np.empty(0, dtype=np.uint32)
    c = _codepoints(text)
    shift = np.uint64(64 - bits)
    seed = np.uint64(zone)
    wide = c >= np.uint64(WIDE_CHAR)
    parts = []
    h = c
    with np.errstate(over="ignore"):
        for n in range(1, NGRAM_MAX + 1):
            if n > 1:
                h = h[:-1] * _P + c[n - 1 :]
                wide = wide[:-1] & wide[1:]
            if h.size == 0:
                break
            grams = h if n >= NGRAM_MIN else h[wide]
            parts.append(((grams + seed * np.uint64(n)) * _MIX) >> shift)
    return np.concatenate(parts).astype(np.uint32)


def token_hashes(tokens: Sequence[str], zone: int) -> Hashes:
    """64-bit hashes (CRC-32 seeded with ``zone``) of ``tokens``, in order."""
    return np.fromiter(
        (zlib.crc32(t.encode("utf-8", "surrogatepass"), zone) for t in tokens),
        dtype=np.uint64,
        count=len(tokens),
    )


def osb_hashes(h: Hashes, window: int, bits: int) -> Indices:
    """Unigram and orthogonal-sparse-bigram features of a token hash sequence ``h``.

    The pair (``h[i]``, ``h[i+d]``) for d = 1..``window`` is one feature; the skip distance is
    part of it ("a b" and "a _ b" differ) and the order matters ("a b" is not "b a").
    """
    parts = [_fold(h, _ZONE_WORD, bits)]
    with np.errstate(over="ignore"):
        for d in range(1, window + 1):
            if h.size <= d:
                break
            pair = h[:-d] * _P + h[d:] * np.uint64(2 * d + 1)
            parts.append(_fold(pair, _ZONE_WORD + 977 * d, bits))
    return np.concatenate(parts)


def words(text: str) -> list[str]:
    """The lower-cased word tokens of ``text`` (see ``_WORD_RE``)."""
    return _WORD_RE.findall(text.lower())


def header_tokens(headers: Sequence[tuple[str, str]]) -> list[str]:
    """``field:word`` tokens of the first :data:`MAX_HEADERS` header fields."""
    out: list[str] = []
    for name, value in headers[:MAX_HEADERS]:
        key = name.lower()
        out.extend(f"{key}:{w}" for w in _HWORD_RE.findall(value[:HEADER_TOKEN_CHARS].lower()))
    return out


def header_token_features(tokens: Sequence[str], bits: int) -> Indices:
    """Indices of header ``tokens``: :data:`HEADER_TOKEN_COPIES` independent hashes of each.

    With binary features and one shared learning rate, a zone's influence grows with the number
    of its features; a message has a few hundred header tokens against thousands of body
    n-grams, and the copies restore the weight of the sender, relay and list words.
    """
    h = token_hashes(tokens, _ZONE_HTOKEN)
    return np.concatenate(
        [_fold(h, _ZONE_HTOKEN + _COPY_SEED * k, bits) for k in range(HEADER_TOKEN_COPIES)]
    )


def subject_features(subject: str, bits: int) -> Indices:
    """The subject's own zones: character n-grams and words (first :data:`SUBJECT_CHARS`)."""
    text = subject[:SUBJECT_CHARS]
    return np.concatenate([
        text_ngrams(text, _ZONE_SUBJECT, bits),
        _fold(token_hashes(words(text), _ZONE_SUBJECT_WORD), _ZONE_SUBJECT_WORD, bits),
    ])  # fmt: skip


def _struct_tokens(msg: ParsedMessage) -> list[str]:
    toks = [f"part:{p.type}/{p.subtype}" for p in msg.body.walk()[:20]]
    for a in msg.attachments[:10]:
        name = (a.filename or "").lower()
        ext = name.rsplit(".", 1)[-1] if "." in name else ""
        toks.append(f"att:{a.content_type}:{ext}")
    toks.extend(f"defect:{d}" for d in msg.defects[:10])
    urls = len(_URL_RE.findall(msg.html_body or msg.text_body))
    toks.append(f"urls:{min(urls, 20).bit_length()}")
    toks.append(f"html:{msg.html_body is not None}:{bool(msg.text_body.strip())}")
    toks.append(f"size:{max(msg.size, 1).bit_length()}")
    return toks


def sorted_unique(idx: Indices) -> Indices:
    """The sorted distinct values of ``idx``: ``np.unique(idx)``, by a sort and a neighbour test.

    Same result, but ``np.unique`` on the ~7,000 indices of a message costs about 1.3 ms with
    NumPy 2.4 (it hashes before sorting) against 0.09 ms for this (``bench/spam_eval.py``
    measured the filter's median CPU time per message falling accordingly, see
    ``docs/spam-filtering.md``).
    """
    s = np.sort(idx)
    if s.size < 2:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def extract(msg: ParsedMessage, bits: int = 20) -> Indices:
    """Unique, sorted feature indices of ``msg`` for a model with ``2**bits`` weights."""
    hdr = "\n".join(f"{k.lower()}:{v[:HEADER_VALUE_CHARS]}" for k, v in msg.headers[:MAX_HEADERS])
    body = msg.subject + "\n" + msg.text_body[:BODY_CHARS]
    html = (msg.html_body or "")[:HTML_CHARS]
    feats = [
        text_ngrams(hdr, _ZONE_HEADER, bits),
        text_ngrams(body + "\x00" + html, _ZONE_BODY, bits),
        _fold(token_hashes(_struct_tokens(msg), _ZONE_STRUCT), _ZONE_STRUCT, bits),
        header_token_features(header_tokens(msg.headers), bits),
        subject_features(msg.subject, bits),
        osb_hashes(
            token_hashes(words(msg.subject + "\n" + msg.text_body[:TOKEN_CHARS]), _ZONE_WORD),
            OSB_WINDOW,
            bits,
        ),  # fmt: skip
    ]
    return sorted_unique(np.concatenate(feats))
