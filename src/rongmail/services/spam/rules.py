"""Rule analyzers: header anomalies, authentication results, body structure and content patterns.

Each function takes the :class:`~rongmail.mime.model.ParsedMessage` and the
:class:`~.context.ScanContext` and returns tags; none does I/O. Content patterns and the URL
shortener list are data (``rules/content.toml``), compiled once.

References: RFC 5322 §3.6 (required Date and From, Message-ID syntax §3.6.4), RFC 7208 (SPF
results), RFC 6376 (DKIM), RFC 7489 §6.3 (DMARC ``p=`` policy).
"""

from __future__ import annotations

import re
import re._constants as sre_constants  # the parser's node types (see _anchors)
import re._parser as sre_parser
import tomllib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

from rongmail.mime.model import ParsedMessage

from . import urls as urlmod
from .context import ScanContext
from .tags import RULES_DIR, Tag, tag

__all__ = [
    "ContentMatcher",
    "auth_tags",
    "content_matchers",
    "content_rules",
    "content_text",
    "fold_case",
    "content_tags",
    "header_tags",
    "shortener_hosts",
    "structure_tags",
]

_SCAN_CHARS = 20_000
_MID_RE = re.compile(r"^<([^<>@\s]+)@([^<>@\s]+)>$")
_DOMAIN_RE = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$", re.I
)
_IPV4_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


@cache
def _content_data() -> dict[str, dict[str, list[str]]]:
    return tomllib.loads((RULES_DIR / "content.toml").read_text(encoding="utf-8"))


@cache
def content_rules() -> dict[str, list[re.Pattern[str]]]:
    """Compiled patterns of ``rules/content.toml``, by tag (or group) name."""
    return {
        name: [re.compile(p, re.I | re.S) for p in spec["patterns"]]
        for name, spec in _content_data().items()
        if "patterns" in spec
    }


#: Text characters that a case-insensitive ASCII letter matches but ``str.lower`` does not
#: turn into it (``re`` simple case folding and its equivalences: dotted/dotless i, long s,
#: Kelvin sign). With them, :func:`fold_case` maps every character that ``re.I`` matches to an
#: ASCII letter or digit onto exactly that letter, one character for one (tested for all of
#: Unicode in ``tests/unit/spam/test_rules.py``).
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def fold_case(text: str) -> str:
    """``text`` case-folded for finding where a case-insensitive match may start: same length,
    same positions (see :data:`_FOLD`)."""
    return text.translate(_FOLD).lower()


def _anchors(items: Sequence[tuple[Any, Any]]) -> frozenset[str] | None:
    """Literal strings one of which every match of the parsed ``items`` starts with, or
    ``None`` when the pattern does not start with literals (a repeat, a class range, ``.``).
    Branches contribute the union of their alternatives' anchors."""
    if not items:
        return None
    op, av = items[0]
    if op is sre_constants.LITERAL:
        run = []
        for op2, av2 in items:
            if op2 is not sre_constants.LITERAL:
                break
            run.append(chr(av2))
        return frozenset(["".join(run)])
    if op is sre_constants.SUBPATTERN:
        _, add_flags, del_flags, sub = av
        return None if add_flags or del_flags else _anchors(sub.data)
    if op is sre_constants.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            found = _anchors(alt.data)
            if found is None:
                return None
            out |= found
        return frozenset(out)
    if op is sre_constants.IN and all(o is sre_constants.LITERAL for o, _ in av):
        return frozenset(chr(a) for _, a in av)
    return None


def _foldable(anchor: str) -> bool:
    """Characters whose case-insensitive matches :func:`fold_case` maps onto them: ASCII, or
    characters without case (CJK, punctuation), which ``re.I`` matches only literally."""
    return bool(anchor) and all(
        c.isascii() or (c.lower() == c and c.upper() == c and c.casefold() == c) for c in anchor
    )


class ContentMatcher:
    """One content pattern with the same answer as ``pattern.search(text) is not None``, but
    tried only where a match can start.

    ``re`` walks every position of a 20,000-character text for a pattern that opens with an
    alternation (``(change|update|new)\\s+...``: ~0.4 ms under ``re.I`` for 5 KB, ~45 µs
    for CJK alternatives). A match must begin with one of the pattern's leading literals
    (:func:`_anchors`), so this finds those (``str.find`` on the :func:`fold_case` d text,
    whose positions equal the text's) and calls ``pattern.match(text, pos)`` there, which
    sees the whole string exactly as ``search`` does. Patterns without such literals, or
    with ones that case folding could miss, fall back to ``search``."""

    __slots__ = ("anchors", "pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        found = _anchors(sre_parser.parse(pattern.pattern, pattern.flags).data)
        ok = found is not None and all(_foldable(a) for a in found)
        self.anchors = tuple(sorted(fold_case(a) for a in found)) if found and ok else None

    def found(self, text: str, folded: str) -> bool:
        """Whether the pattern matches anywhere in ``text``; ``folded`` is
        ``fold_case(text)``."""
        if self.anchors is None or len(folded) != len(text):
            return self.pattern.search(text) is not None
        match = self.pattern.match
        for anchor in self.anchors:
            i = folded.find(anchor)
            while i >= 0:
                if match(text, i) is not None:
                    return True
                i = folded.find(anchor, i + 1)
        return False


@cache
def content_matchers() -> dict[str, tuple[ContentMatcher, ...]]:
    """:func:`content_rules` as :class:`ContentMatcher` s, by tag (or group) name."""
    return {name: tuple(ContentMatcher(p) for p in pats) for name, pats in content_rules().items()}


#: The last :func:`content_text` answer: ``(msg, subject, text_body, text, folded)``.
_LAST_CONTENT: tuple[ParsedMessage, str, str, str, str] | None = None


def content_text(msg: ParsedMessage) -> tuple[str, str]:
    """What content patterns see: the subject and the first 20,000 characters of the plain
    text, and that text case-folded (:func:`fold_case`).

    Two analyzers of one message ask for it (:func:`content_tags` and the phishing payment
    check): the last answer is kept and given again while ``msg`` is the same object with the
    very same ``subject`` and ``text_body`` strings (identity checks, so a message that was
    changed in between, or another message, is computed afresh). The entry is one tuple,
    replaced whole, so analyzers on several worker threads at once never see a torn entry;
    holding ``msg`` keeps it alive, so its identity cannot be reused by another object."""
    global _LAST_CONTENT
    last = _LAST_CONTENT
    if last is not None and last[0] is msg and last[1] is msg.subject and last[2] is msg.text_body:
        return last[3], last[4]
    text = msg.subject + "\n" + msg.text_body[:_SCAN_CHARS]
    folded = fold_case(text)
    _LAST_CONTENT = (msg, msg.subject, msg.text_body, text, folded)
    return text, folded


@cache
def shortener_hosts() -> frozenset[str]:
    return frozenset(h.lower() for h in _content_data()["URL_SHORTENER"]["hosts"])


def _raw_header(msg: ParsedMessage, name: str) -> list[str]:
    low = name.lower()
    return [v for k, v in msg.headers if k.lower() == low]


def header_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    out: list[Tag] = []
    dates = _raw_header(msg, "Date")
    now = ctx.now or datetime.now(UTC)
    date = msg.date or (_parse_date(dates[0]) if dates else None)
    if not dates:
        out.append(tag("MISSING_DATE"))
    elif date is None:
        out.append(tag("INVALID_DATE", dates[0][:60]))
    elif date - now > timedelta(days=1):
        out.append(tag("DATE_IN_FUTURE"))
    elif now - date > timedelta(days=30):
        out.append(tag("DATE_IN_PAST"))
    out.extend(_message_id_tags(_raw_header(msg, "Message-ID")))
    if not _raw_header(msg, "From") or not msg.from_ or not msg.from_[0].email:
        out.append(tag("MISSING_FROM"))
    elif len(msg.from_) > 1:
        out.append(tag("MULTIPLE_FROM"))
    if not msg.to and not msg.cc:
        out.append(tag("MISSING_TO"))
    if not _raw_header(msg, "Subject"):
        out.append(tag("MISSING_SUBJECT"))
    else:
        letters = [c for c in msg.subject if c.isalpha()]
        if (
            len(letters) >= 10
            and all(c.isupper() for c in letters if c.isascii())
            and all(c.isascii() for c in letters)
        ):
            out.append(tag("SUBJ_ALL_CAPS"))
    if msg.from_ and msg.reply_to:
        fd = urlmod.registrable(_domain(msg.from_[0].email))
        rd = urlmod.registrable(_domain(msg.reply_to[0].email))
        if fd and rd and fd != rd:
            out.append(tag("REPLYTO_DIFF_DOMAIN", rd))
    return out


def _parse_date(value: str) -> datetime | None:
    """RFC 5322 §3.3 date-time, also for years the MIME parser refuses as implausible."""
    try:
        d = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def _domain(addr: str) -> str:
    return addr.rpartition("@")[2].strip().rstrip(">").lower()


def _message_id_tags(values: list[str]) -> list[Tag]:
    if not values:
        return [tag("MISSING_MID")]
    mid = values[0].strip()
    if not mid.startswith("<") and not mid.endswith(">") and "@" in mid and " " not in mid:
        return [tag("MID_MISSING_BRACKETS")]
    m = _MID_RE.match(mid)
    if not m or not mid.isascii():
        return [tag("INVALID_MSGID", mid[:80])]
    rhs = m.group(2)
    if rhs.startswith("[") and rhs.endswith("]"):
        return [tag("MID_RHS_IP_LITERAL")]
    if _IPV4_RE.match(rhs):
        return [tag("MID_BARE_IP")]
    if len(rhs) > 255 or any(len(label) > 63 for label in rhs.split(".")):
        return [tag("MID_RHS_TOO_LONG")]
    if "." not in rhs or not _DOMAIN_RE.match(rhs):
        return [tag("MID_RHS_NOT_FQDN")]
    return []


_AUTH_MAP = {
    ("spf", "pass"): "SPF_PASS",
    ("spf", "fail"): "SPF_FAIL",
    ("spf", "softfail"): "SPF_SOFTFAIL",
    ("spf", "none"): "SPF_NA",
    ("dkim", "pass"): "DKIM_PASS",
    ("dkim", "fail"): "DKIM_FAIL",
    ("dkim", "permerror"): "DKIM_FAIL",
    ("dmarc", "pass"): "DMARC_PASS",
    ("dmarc", "none"): "DMARC_NA",
}


def auth_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    """Tags from the mailauth stage's results (``ctx.auth``); absent results emit nothing."""
    out = []
    auth = {k.lower(): v.strip().lower() for k, v in ctx.auth.items()}
    for key in ("spf", "dkim", "dmarc"):
        name = _AUTH_MAP.get((key, auth.get(key, "")))
        if name:
            out.append(tag(name))
    if auth.get("dmarc") == "fail":
        policy = auth.get("dmarc_policy", "none")
        out.append(
            tag(
                {"reject": "DMARC_POLICY_REJECT", "quarantine": "DMARC_POLICY_QUARANTINE"}.get(
                    policy, "DMARC_FAIL"
                )
            )
        )
    # Our own domain in From, but the message came from outside and did not authenticate.
    if msg.from_ and ctx.tenant_domains:
        fd = _domain(msg.from_[0].email)
        if (
            fd in ctx.tenant_domains
            and auth.get("dmarc") != "pass"
            and (auth.get("spf") in ("fail", "softfail") or auth.get("dmarc") == "fail")
        ):
            out.append(tag("FORGED_OWN_DOMAIN", fd))
    return out


def structure_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    out: list[Tag] = []
    leaves = [p for p in msg.body.walk() if p.type != "multipart"]
    text_parts = [p for p in leaves if p.type == "text" and p.subtype == "plain" and not p.filename]
    if msg.html_body is not None and not text_parts:
        out.append(tag("MIME_HTML_ONLY"))
        if len(msg.text_body.strip()) < 200:
            out.append(tag("HTML_SHORT"))
    shorteners = shortener_hosts()
    found_short = found_ip = False
    for u in urlmod.urls(msg.text_body, msg.html_body)[:200]:
        host = urlmod.host_of(u)
        if not host:
            continue
        if not found_short and _in_hosts(host, shorteners):
            out.append(tag("URL_SHORTENER", host))
            found_short = True
        if not found_ip and urlmod.is_ip(host):
            out.append(tag("URL_IP_HOST", host))
            found_ip = True
    return out


def _in_hosts(host: str, hosts: frozenset[str]) -> bool:
    parts = host.split(".")
    return any(".".join(parts[i:]) in hosts for i in range(len(parts) - 1))


_CONTENT_TAGS = ("ZH_INVOICE", "ZH_TRAINING", "ZH_CONTACT_IM", "ZH_AD_MARKER", "ZH_GET_RICH")


def _matches(matchers: Iterable[ContentMatcher], text: str, folded: str) -> bool:
    return any(m.found(text, folded) for m in matchers)


def content_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    text, folded = content_text(msg)
    rules = content_matchers()
    out = []
    for name in _CONTENT_TAGS:
        if _matches(rules[name], text, folded):
            out.append(tag(name))
    return out
