"""Tokens for the full-text index with substring recall (IMAP SEARCH, RFC 9051 §6.4.4).

IMAP SEARCH matches *substrings*; a word segmenter misses hits (jieba found 87–95% in a trial).
We index, for each run of letters/digits (any script), every overlapping **bigram** plus the run's
**last character** as a unigram. Then:

* a query of two or more characters is the *phrase* of its bigrams (adjacent tokens), which
  matches exactly the texts containing it as a substring of one run;
* a one-character query is the *prefix* query ``c*``, which matches every bigram starting with
  ``c`` and the unigram at the end of a run, i.e. every occurrence.

Text is case-folded (NFKC + casefold), so full-width Latin matches half-width. Runs are split on
whitespace and punctuation; a multi-word query is the AND of its words (a slight over-match that
callers may re-check). Tokens are joined by spaces for FTS5 (``unicode61`` tokenizer with
``tokenchars``-free settings splits on spaces only because our tokens never contain separators)
and PostgreSQL ``to_tsvector('simple', ...)``.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from array import array

_RUN = re.compile(r"[^\W_]+", re.UNICODE)
_GAPS = re.compile(r"[\W_]+", re.UNICODE)  # the complement of _RUN
_BOUNDARY = re.compile("\x00 \x00. ", re.DOTALL)
_BOUNDARY_ASCII = re.compile(b"\x00 \x00. ", re.DOTALL)
#: ``bytes.translate`` table of the ASCII path: letters and digits stay, every other byte
#: becomes NUL. In ASCII, ``[^\W_]`` (what :data:`_RUN` matches) is exactly
#: ``str.isalnum`` (``re``'s Unicode ``\w`` is ``isalnum()`` plus ``_``), so the runs are the
#: same; bytes >= 0x80 never reach it (the path is taken for ASCII text only).
_ASCII_GAPS_TO_NUL = bytes(c if chr(c).isalnum() else 0 for c in range(128)) + bytes(128)
#: ``bytes.translate`` table of the "is not NUL" byte mask.
_NONZERO_TO_FF = b"\x00" + b"\xff" * 255
_SPACE = array("I", [0x20])
_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"  # native, as array("I")
if _SPACE.itemsize != 4:  # pragma: no cover - no such CPython platform is supported
    raise ImportError("search_tokens needs a 4-byte array('I')")
MAX_INDEXED_CHARS = 2_000_000  # bodies beyond 2 MB of text are indexed up to here


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def index_tokens(text: str) -> str:
    """Index form of ``text``: space-separated bigrams and run-final unigrams.

    Equal to the reference :func:`index_tokens_reference` (a test checks it on random text),
    built with C-level string operations only, since it runs for every stored message: runs
    are joined by one NUL, every code point is paired with its successor by strided array
    writes (UTF-32), and the pairs that straddle a NUL are then cut out by one regex pass.
    Text that is ASCII once normalized (most mail bodies) takes :func:`_index_tokens_ascii`,
    the same construction on bytes.
    """
    if not text:
        return ""
    norm = _norm(text[:MAX_INDEXED_CHARS])
    if norm.isascii():
        return _index_tokens_ascii(norm)
    joined = _GAPS.sub("\x00", norm).strip("\x00")
    m = len(joined)
    if m < 2:
        return joined
    src = array("I")
    src.frombytes(joined.encode(_UTF32))
    n = 3 * (m - 1)  # "c0c1 c1c2 ... " then the last code point
    out = _SPACE * (n + 1)
    out[0:n:3] = src[:-1]
    out[1:n:3] = src[1:]
    out[n] = src[-1]
    # a run boundary "...x y..." became "x\0 \0y ": keep "x" (run-final unigram), drop "\0y"
    return _BOUNDARY.sub(" ", out.tobytes().decode(_UTF32))


def _index_tokens_ascii(norm: str) -> str:
    """:func:`index_tokens` of already normalized ASCII text, on bytes (one byte per code
    point, so the UTF-32 round trip is not needed), by whichever of two equal constructions
    is cheaper for the text: prose (many short runs, at least one separator per 8 bytes)
    costs :func:`_ascii_tokens_masked` a fixed amount per byte, while few long runs make
    :func:`_ascii_tokens_joined`'s per-run work small. Both give the same string."""
    gaps_nul = norm.encode("ascii").translate(_ASCII_GAPS_TO_NUL)
    if gaps_nul.count(0) * 8 > len(gaps_nul):
        return _ascii_tokens_masked(gaps_nul)
    return _ascii_tokens_joined(gaps_nul)


def _ascii_tokens_joined(gaps_nul: bytes) -> str:
    """Index tokens of ASCII text whose separators are already NUL (one ``translate``
    instead of the Unicode ``_GAPS`` regex, which tests every character's category: ~10 ns
    each, 60 µs for a 5 KB body): the runs are the non-empty pieces between NULs, paired as in
    :func:`index_tokens` (strided writes, then one regex substitution per run boundary)."""
    joined = b"\x00".join(filter(None, gaps_nul.split(b"\x00")))
    m = len(joined)
    if m < 2:
        return joined.decode("ascii")
    n = 3 * (m - 1)
    out = bytearray(b" ") * (n + 1)
    out[0:n:3] = joined[:-1]
    out[1:n:3] = joined[1:]
    out[n] = joined[-1]
    return _BOUNDARY_ASCII.sub(b" ", out).decode("ascii")


def _ascii_tokens_masked(gaps_nul: bytes) -> str:
    r"""Index tokens of ASCII text whose separators are already NUL, with no per-run step.

    Every position ``i`` of ``s`` becomes the three bytes ``" " s[i] f[i]``, where ``f[i]``
    is the byte after ``s[i]`` when ``s[i]`` is not a separator, else NUL (so also NUL after
    a run's last character and at the end); ``f`` is computed for all positions at once as
    the bitwise AND of two big integers (``s`` shifted by one byte, and the "``s[i]`` is not
    NUL" byte mask). That gives ``" xy"`` for a bigram, ``" x\0"`` for the last character of
    a run (its unigram) and ``" \0\0"`` for a separator. ``" \0\0"`` can only match a whole
    triple (a triple's first byte is always the space, and ``s`` and ``f`` hold no space), so
    deleting it removes exactly the separators; deleting the remaining NULs leaves the
    unigrams, and the leading space goes last."""
    n = len(gaps_nul)
    follow = int.from_bytes(gaps_nul[1:], "little") & int.from_bytes(
        gaps_nul.translate(_NONZERO_TO_FF), "little"
    )
    out = bytearray(b" ") * (3 * n)
    out[1::3] = gaps_nul
    out[2::3] = follow.to_bytes(n, "little")
    return out.replace(b" \x00\x00", b"").translate(None, b"\x00")[1:].decode("ascii")


def index_tokens_reference(text: str) -> str:
    """The definition of :func:`index_tokens`, one run at a time (slow; for tests)."""
    if not text:
        return ""
    out: list[str] = []
    for m in _RUN.finditer(_norm(text[:MAX_INDEXED_CHARS])):
        run = m.group()
        for i in range(len(run) - 1):
            out.append(run[i : i + 2])
        out.append(run[-1])
    return " ".join(out)


def query_words(query: str) -> list[list[str]]:
    """Split a substring query into words, each a list of bigram tokens (a phrase).

    A one-character word yields ``[c]`` which callers turn into a prefix query.
    Returns ``[]`` when the query has no letters or digits (matches everything).
    """
    words: list[list[str]] = []
    for m in _RUN.finditer(_norm(query)):
        run = m.group()
        if len(run) == 1:
            words.append([run])
        else:
            words.append([run[i : i + 2] for i in range(len(run) - 1)])
    return words


def _quote(tok: str) -> str:
    return '"' + tok.replace('"', '""') + '"'


def fts5_query(query: str) -> str | None:
    """FTS5 MATCH expression for a substring query, or None to match all."""
    words = query_words(query)
    if not words:
        return None
    parts = []
    for w in words:
        if len(w) == 1 and len(w[0]) == 1:
            parts.append(_quote(w[0]) + " *")
        else:
            parts.append(" + ".join(_quote(t) for t in w))
    return " AND ".join(parts)


def tsquery(query: str) -> str | None:
    """PostgreSQL ``to_tsquery('simple', ...)`` text for a substring query, or None."""
    words = query_words(query)
    if not words:
        return None

    def lit(tok: str) -> str:
        return "'" + tok.replace("'", "''").replace("\\", "\\\\") + "'"

    parts = []
    for w in words:
        if len(w) == 1 and len(w[0]) == 1:
            parts.append(lit(w[0]) + ":*")
        else:
            parts.append("(" + " <-> ".join(lit(t) for t in w) + ")")
    return " & ".join(parts)
