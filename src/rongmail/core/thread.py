"""Conversation threading: base subjects and the keys the store uses to attach mail to threads.

Role: pure functions (stdlib only) shared by delivery, IMAP ``THREAD`` (RFC 5256) and JMAP
``Thread`` (RFC 8621 §3).

API
---

* :func:`normalize_subject` -- the RFC 5256 §2.1 "base subject", extended to the reply and
  forward prefixes of Chinese mail clients ("reply", "answer", "forward" in simplified and
  traditional characters, see ``_PREFIX_WORDS``; ASCII or full-width colons; tags in
  full-width lenticular brackets U+3010/U+3011) and common European ones (``AW:``, ``WG:``,
  ``SV:``, ``VS:``, ``TR:``, ``RIF:``).
* :func:`subject_key` -- the case-folded base subject, for equality comparisons.
* :func:`thread_keys` -- from anything with ``message_id``, ``in_reply_to``, ``references`` and
  ``subject`` attributes (e.g. ``rongmail.mime.model.ParsedMessage``) build a
  :class:`ThreadKeys`.
* :func:`find_thread` -- given the threads of the already stored messages the keys mention,
  choose the thread to join (or ``None`` to start a new one).

How the store uses it (one account at a time)::

    keys = thread_keys(parsed)
    known = {mid: thread_id for mid, thread_id in
             SELECT message_id, thread_id FROM message WHERE message_id IN keys.lookup_ids()}
    by_subject = (latest thread with subject_key = keys.subject_key, received recently)
                 if keys.subject_fallback else None
    thread_id = find_thread(keys, known, by_subject)
    if thread_id is None:
        thread_id = new_thread()

Invariants: the reference chain is bounded (:data:`MAX_REFERENCES`, nearest ancestors kept);
the subject fallback is used only for messages that look like replies or forwards (a prefix was
stripped, or they cite ancestors we do not have), so two unrelated mails that merely share a
subject such as "Invoice" are never merged. Merging threads when a late parent arrives
(children first) is the store's job: it also looks up stored messages whose references contain
``keys.message_id``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

__all__ = [
    "MAX_REFERENCES",
    "ThreadKeys",
    "Threadable",
    "find_thread",
    "normalize_subject",
    "subject_key",
    "thread_keys",
]

#: At most this many ancestors (the nearest ones) are considered.
MAX_REFERENCES = 50

# Reply/forward prefixes. Chinese forms are written as escapes (no CJK literals in code):
# \u56de\u590d reply (simplified), \u56de\u8986 reply (traditional), \u7b54\u590d and
# \u7b54\u8986 answer, \u8f6c\u53d1 / \u8f49\u767c forward, \u8f6c\u5bc4 / \u8f49\u5bc4 forward.
_PREFIX_WORDS = (
    r"re|fwd?|aw|wg|sv|vs|antw|tr|rif|enc|odp|"
    "\u56de\u590d|\u56de\u8986|\u7b54\u590d|\u7b54\u8986|"
    "\u8f6c\u53d1|\u8f49\u767c|\u8f6c\u5bc4|\u8f49\u5bc4"
)
# "Re:", "RE :", "Re[2]:", "Re(2):", "Re^2:", with ASCII or full-width (\uff1a) colon.
_REPLY = re.compile(
    rf"^(?:{_PREFIX_WORDS})\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:\uff1a]\s*",
    re.IGNORECASE,
)
# A leading "[list-name]" or full-width "\u3010tag\u3011" blob (RFC 5256 §5 "subj-blob").
_BLOB = re.compile(r"^(?:\[[^\[\]]*\]|\u3010[^\u3010\u3011]*\u3011)\s*")
# RFC 5256 §5 "subj-trailer" and the "(fwd)" trailer.
_TRAILER = re.compile(r"\s*\((?:fwd|fw)\)\s*$", re.IGNORECASE)
# RFC 5256 §5 "subj-fwd": "[fwd: ...]".
_FWD_WRAP = re.compile(r"^\[fwd:\s*(.*)\]$", re.IGNORECASE | re.DOTALL)
_WS = re.compile(r"\s+")


def _base_subject(subject: str) -> tuple[str, bool]:
    """RFC 5256 §2.1 base subject and whether a reply/forward marker was removed."""
    s = _WS.sub(" ", unicodedata.normalize("NFKC", subject)).strip()
    marked = False
    for _ in range(100):  # bounded: each round removes at least one character
        before = s
        while True:
            t = _TRAILER.sub("", s)
            if t == s:
                break
            s, marked = t, True
        while True:
            m = _REPLY.match(s)
            if m is not None:
                s, marked = s[m.end() :], True
                continue
            m = _BLOB.match(s)
            if m is not None and s[m.end() :].strip():
                s = s[m.end() :]
                continue
            break
        m = _FWD_WRAP.match(s)
        if m is not None:
            s, marked = m.group(1).strip(), True
        s = s.strip()
        if s == before:
            break
    return s, marked


def normalize_subject(subject: str) -> str:
    """The base subject: reply/forward prefixes, list tags and ``(fwd)`` trailers removed
    repeatedly, white space collapsed, compatibility forms folded (NFKC: the full-width colon
    U+FF1A and full-width letters become ASCII). Case is preserved; use :func:`subject_key` to
    compare."""
    return _base_subject(subject)[0]


def subject_key(subject: str) -> str:
    """Case-folded base subject: equal keys mean "same conversation topic"."""
    return normalize_subject(subject).casefold()


class Threadable(Protocol):
    """What :func:`thread_keys` reads (``ParsedMessage`` satisfies it)."""

    @property
    def message_id(self) -> str | None: ...

    @property
    def in_reply_to(self) -> list[str]: ...

    @property
    def references(self) -> list[str]: ...

    @property
    def subject(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ThreadKeys:
    """Threading inputs for one message.

    ``parents`` are candidate ancestors, nearest first: In-Reply-To, then References from the
    last (the direct parent, RFC 5322 §3.6.4) to the first (the root). ``subject_fallback`` is
    true when a subject match may be used (see the module docstring).
    """

    message_id: str | None
    parents: tuple[str, ...]
    subject_key: str
    subject_fallback: bool

    def lookup_ids(self) -> tuple[str, ...]:
        """Message-IDs whose stored threads :func:`find_thread` needs."""
        return self.parents


def _clean_id(mid: str) -> str:
    return mid.strip().strip("<>").strip()


def thread_keys(msg: Threadable) -> ThreadKeys:
    """Build :class:`ThreadKeys` from a parsed message."""
    own = _clean_id(msg.message_id) if msg.message_id else None
    seen: set[str] = set()
    parents: list[str] = []
    for mid in [*msg.in_reply_to, *reversed(msg.references)]:
        c = _clean_id(mid)
        if c and c != own and c not in seen:
            seen.add(c)
            parents.append(c)
        if len(parents) >= MAX_REFERENCES:
            break
    base, marked = _base_subject(msg.subject or "")
    key = base.casefold()
    return ThreadKeys(
        message_id=own or None,
        parents=tuple(parents),
        subject_key=key,
        subject_fallback=bool(key) and (marked or bool(parents)),
    )


T = TypeVar("T")


def find_thread(keys: ThreadKeys, known: Mapping[str, T], by_subject: T | None = None) -> T | None:
    """Choose the thread to join.

    ``known`` maps stored Message-IDs (from :meth:`ThreadKeys.lookup_ids`) to their thread;
    ``by_subject`` is the store's candidate thread for ``keys.subject_key`` (only consulted
    when ``keys.subject_fallback``). The nearest known ancestor wins.
    """
    for mid in keys.parents:
        if mid in known:
            return known[mid]
    if keys.subject_fallback and by_subject is not None:
        return by_subject
    return None
