"""Phishing analyzers: impersonation, lookalike domains, deceptive links, credential forms and
payment-change requests.

* **Display-name impersonation**: an outside address whose display name carries the name of
  one of the tenant's people (``ScanContext.people``); executives weigh more (CEO fraud).
* **Lookalike domains**: the sender's registrable domain differs from a tenant or partner
  domain but has the same *skeleton* (Unicode TR39 idea: NFKC, a confusables map, ``rn`` ->
  ``m``...), which flags IDN homographs (``аpple.com`` in Cyrillic) and digit swaps, or lies
  within a small Damerau-Levenshtein distance of it (``examp1e.com``, ``exmaple.com``).
* **Links**: anchor text showing one domain while the ``href`` goes to another, and links to
  lookalike domains.
* **Credential forms**: an HTML ``<form>`` with a password field.
* **Payment changes**: wording asking to pay into new bank details (``rules/content.toml``),
  weighted strongly when the sender writes to the tenant for the first time.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import cache, lru_cache

from rongmail.mime.model import ParsedMessage

from . import urls as urlmod
from .context import ScanContext
from .rules import content_matchers, content_text
from .tags import RULES_DIR, Tag, tag

__all__ = [
    "damerau_levenshtein",
    "has_credential_form",
    "is_homograph",
    "impersonation_tags",
    "link_tags",
    "lookalike_of",
    "phishing_tags",
    "skeleton",
]

_FORM_RE = re.compile(r"<form\b", re.I)
_PASSWORD_RE = re.compile(r"<input\b[^>]*type\s*=\s*[\"']?password", re.I)
_DOMAINISH_RE = re.compile(
    r"^(?:https?://)?(?:www\.)?([a-z0-9\u00a1-\uffff-]+(?:\.[a-z0-9\u00a1-\uffff-]+)+)(?:[/:?#].*)?$",
    re.I,
)


@cache
def _confusables() -> tuple[dict[int, str], tuple[tuple[str, str], ...]]:
    data = tomllib.loads((RULES_DIR / "confusables.toml").read_text(encoding="utf-8"))
    return (
        {ord(k): v for k, v in data["map"].items()},
        tuple(data["sequences"].items()),
    )


@lru_cache(maxsize=8192)
def skeleton(domain: str) -> str:
    """A form of ``domain`` under which visually confusable names compare equal.

    Pure (the confusables table is loaded once), so results are memoized: the tenant's own
    domains and the usual senders are folded once per process instead of for every message."""
    table, seqs = _confusables()
    s = unicodedata.normalize("NFKC", domain).casefold().translate(table)
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    for seq, repl in seqs:
        s = s.replace(seq, repl)
    return s


def damerau_levenshtein(a: str, b: str, limit: int = 3) -> int:
    """Optimal-string-alignment distance of ``a`` and ``b``, capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


_to_unicode = urlmod.to_unicode


@lru_cache(maxsize=8192)
def lookalike_of(domain: str, known: frozenset[str]) -> tuple[str, str] | None:
    """``(kind, known domain)`` when ``domain`` imitates one of ``known``, else ``None``.

    ``kind`` is ``"homograph"`` for a non-ASCII name with the same skeleton, ``"lookalike"``
    for ASCII confusables or a near edit. Subdomains of a known domain are not lookalikes.
    A pure function of its arguments (the Public Suffix List and the confusables are fixed
    for the process), memoized: repeat senders and link hosts of a tenant (whose ``known``
    set is one object, see :func:`_known`) cost one dictionary lookup.
    """
    d = urlmod.registrable(_to_unicode(domain))
    if not d or d in known:
        return None
    sk = skeleton(d)
    label = d.split(".")[0]
    for k in known:
        if d.endswith("." + k):
            return None
        if sk == skeleton(k):
            return ("homograph" if not d.isascii() else "lookalike", k)
        k_label = k.split(".")[0]
        if len(k_label) >= 5:
            limit = 2 if len(k_label) >= 10 else 1
            if damerau_levenshtein(sk, skeleton(k), limit) <= limit:
                return ("lookalike", k)
            if label == k_label or skeleton(label) == skeleton(k_label):
                return ("lookalike", k)  # same name under another suffix
    return None


def is_homograph(host: str) -> bool:
    """A non-ASCII host name some label of which reads as plain ASCII once confusables and
    accents are folded (``xn--80ak6aa92e.com``, ``bánk.com``); CJK names are not."""
    for lab in _to_unicode(host).split("."):
        if lab.isascii():
            continue
        if skeleton(lab).isascii():
            return True
    return False


def _norm_name(s: str) -> str:
    return "".join(unicodedata.normalize("NFKC", s).casefold().split())


def _is_external(addr: str, ctx: ScanContext) -> bool:
    dom = addr.rpartition("@")[2].lower()
    return (
        bool(dom)
        and urlmod.registrable(dom) not in ctx.tenant_domains
        and dom not in (ctx.tenant_domains)
    )


def impersonation_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    if not msg.from_ or not ctx.people:
        return []
    frm = msg.from_[0]
    if not frm.name or not _is_external(frm.email, ctx):
        return []
    shown = _norm_name(frm.name)
    local = _norm_name(frm.email.partition("@")[0])
    for person in sorted(ctx.people, key=lambda p: not p.executive):
        want = _norm_name(person.name)
        if len(want) < 2:
            continue
        if want in shown or (len(want) >= 4 and want.isascii() and want == local):
            name = "IMPERSONATE_EXECUTIVE" if person.executive else "IMPERSONATE_COLLEAGUE"
            return [tag(name, f"{person.name} <{frm.email}>")]
    return []


def _known(ctx: ScanContext) -> frozenset[str]:
    return _known_domains(ctx.tenant_domains, ctx.partner_domains)


@lru_cache(maxsize=1024)
def _known_domains(tenant: frozenset[str], partner: frozenset[str]) -> frozenset[str]:
    """The registrable forms of a tenant's and its partners' domains. Memoized: the stage
    passes the same cached frozensets for every message of a tenant (a frozenset caches its
    hash, so a hit costs no re-hashing of the domains)."""
    return frozenset(urlmod.registrable(_to_unicode(d)) for d in tenant | partner)


def sender_domain_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    known = _known(ctx)
    out = []
    candidates = {a.email.rpartition("@")[2] for a in msg.from_[:1] + msg.reply_to[:1]}
    if ctx.envelope_from:
        candidates.add(ctx.envelope_from.rpartition("@")[2])
    for dom in sorted(c for c in candidates if c):
        if is_homograph(dom):
            out.append(tag("IDN_HOMOGRAPH", dom))
            continue
        hit = lookalike_of(dom, known) if known else None
        if hit:
            kind, target = hit
            out.append(
                tag(
                    "IDN_HOMOGRAPH" if kind == "homograph" else "LOOKALIKE_DOMAIN",
                    f"{dom} ~ {target}",
                )
            )
    return out


def link_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    out: list[Tag] = []
    known = _known(ctx)
    mismatch = lookalike = False
    for text, href in urlmod.links(msg.html_body)[:300]:
        target = urlmod.host_of(href)
        if not target:
            continue
        m = _DOMAINISH_RE.match(text.strip())
        if not mismatch and m and "." in m.group(1):
            shown = urlmod.registrable(_to_unicode(m.group(1)))
            if shown != urlmod.registrable(target) and not target.endswith("." + shown):
                out.append(tag("LINK_TEXT_MISMATCH", f"{shown} -> {target}"))
                mismatch = True
        if not lookalike and known and lookalike_of(target, known):
            out.append(tag("LINK_LOOKALIKE", target))
            lookalike = True
    for u in urlmod.urls(msg.text_body, msg.html_body)[:300]:
        host = urlmod.host_of(u)
        if host and is_homograph(host):
            out.append(tag("URL_HOMOGRAPH", host))
            break
    return out


def has_credential_form(html: str) -> bool:
    """An HTML ``<form>`` with a password input."""
    return bool(_FORM_RE.search(html) and _PASSWORD_RE.search(html))


def form_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    if has_credential_form(msg.html_body or ""):
        return [tag("HTML_CREDENTIAL_FORM")]
    return []


def payment_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    text, folded = content_text(msg)
    if any(m.found(text, folded) for m in content_matchers()["PAYMENT_CHANGE"]):
        return [
            tag("PAYMENT_CHANGE_FIRST_TIME" if ctx.first_time_sender else "PAYMENT_CHANGE_REQUEST")
        ]
    return []


def phishing_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    """All phishing analyzers."""
    return [
        *impersonation_tags(msg, ctx),
        *sender_domain_tags(msg, ctx),
        *link_tags(msg, ctx),
        *form_tags(msg, ctx),
        *payment_tags(msg, ctx),
    ]
