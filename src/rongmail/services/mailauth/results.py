"""``Authentication-Results`` header builder (RFC 8601).

Role: render the verdicts of SPF, DKIM, DMARC and ARC as one header field, kept as message
metadata and prepended on read (DESIGN.md: blobs are never rewritten).

Invariants:

* The first element is our ``authserv-id`` (RFC 8601 §2.5); with no method results the
  field is ``authserv-id; none`` (§2.2).
* Property values are emitted as RFC 2045 tokens or quoted strings, and comments have
  ``(``, ``)`` and ``\\`` escaped, so peer-controlled text (a MAIL FROM local part, a DKIM
  ``d=``) cannot inject extra results or header fields. CR/LF never appear in values.
* Lines are folded before 78 characters at ``;`` boundaries (RFC 5322 §2.1.1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rongmail.services.mailauth.arc import ArcResult
from rongmail.services.mailauth.dkim import DkimResult
from rongmail.services.mailauth.dmarc import DmarcResult
from rongmail.services.mailauth.spf import SpfVerdict

HEADER_NAME = "Authentication-Results"

# RFC 2045 §5.1 token: no SPACE, CTLs or tspecials.
_TOKEN = re.compile(r"^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$")
# RFC 8601 §2.2 also allows [local-part] "@" domain-name unquoted for pvalue.
_ADDR = re.compile(r"^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]*@[A-Za-z0-9.\-]+$")


def pvalue(value: str) -> str:
    v = re.sub(r"[\x00-\x1f\x7f]", "", value)
    if v and (_TOKEN.match(v) or _ADDR.match(v)):
        return v
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def comment(text: str) -> str:
    t = re.sub(r"[\x00-\x1f\x7f]", "", text)
    t = t.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({t})"


def _method(name: str, result: str, props: Sequence[tuple[str, str]], note: str = "") -> str:
    parts = [f"{name}={result}"]
    if note:
        parts.append(comment(note))
    parts.extend(f"{k}={pvalue(v)}" for k, v in props if v)
    return " ".join(parts)


def spf_clause(spf: SpfVerdict) -> str:
    # RFC 8601 §2.7.2: smtp.mailfrom, or smtp.helo for the HELO identity.
    prop = "smtp.mailfrom" if spf.identity == "mailfrom" else "smtp.helo"
    return _method("spf", spf.result.value, [(prop, spf.checked)])


def dkim_clause(r: DkimResult) -> str:
    # RFC 8601 §2.7.1 (header.d, header.i), RFC 6008 (header.b), RFC 8616 header.s/header.a.
    return _method(
        "dkim",
        r.result,
        [("header.d", r.domain), ("header.s", r.selector), ("header.a", r.algorithm),
         ("header.b", r.header_b)],
        r.reason if r.result != "pass" else "",
    )  # fmt: skip


def dmarc_clause(r: DmarcResult) -> str:
    # RFC 7489 §11.2: method "dmarc", property header.from.
    note = ""
    if r.policy is not None:
        note = f"p={r.policy.value} dis={r.disposition.value}"
    if r.notes:
        note = "; ".join([note, *r.notes]) if note else "; ".join(r.notes)
    return _method("dmarc", r.result, [("header.from", r.header_from)], note)


def arc_clause(r: ArcResult) -> str:
    # RFC 8617 §10.1: method "arc", ptype "header", property "oldest-pass" optional.
    note = f"i={r.instances}" if r.instances else ""
    return _method("arc", r.result, [], note)


def iprev_clause(result: str, ip: str) -> str:
    """RFC 8601 §3 "iprev" (reverse DNS check of the client), property policy.iprev."""
    return _method("iprev", result, [("policy.iprev", ip)])


def build_authentication_results(
    authserv_id: str,
    *,
    spf: SpfVerdict | None = None,
    dkim: Sequence[DkimResult] = (),
    dmarc: DmarcResult | None = None,
    arc: ArcResult | None = None,
    extra: Sequence[str] = (),
) -> str:
    """The header field value (without the name), folded with CRLF + space."""
    clauses: list[str] = []
    if spf is not None:
        clauses.append(spf_clause(spf))
    clauses.extend(dkim_clause(r) for r in dkim)
    if dmarc is not None:
        clauses.append(dmarc_clause(dmarc))
    if arc is not None:
        clauses.append(arc_clause(arc))
    clauses.extend(extra)
    head = pvalue(authserv_id)
    if not clauses:
        return f"{head}; none"
    return head + ";\r\n " + ";\r\n ".join(clauses)


def header_line(value: str) -> bytes:
    """``Authentication-Results: <value>\\r\\n`` as bytes, ready to prepend."""
    return f"{HEADER_NAME}: {value}\r\n".encode()


def authserv_id_of(value: str) -> str:
    """The authserv-id of an existing A-R field; a receiver removes fields claiming its own
    id before adding its own (RFC 8601 §5)."""
    head = value.split(";", 1)[0].strip()
    head = re.sub(r"\([^)]*\)", "", head).strip()
    return head.split()[0].strip('"').lower() if head else ""
