"""E-mail addresses and domains: parsing, IDNA and SMTPUTF8 normalisation.

Invariants: a *normalised* domain is its IDNA A-label, lower-case, without a trailing dot
(``例子.中国`` -> ``xn--fsqu00a.xn--fiqs8s``). A normalised address is ``local@domain`` with the
local part lower-cased (RongMail treats local parts case-insensitively, as every mainstream
provider does) and the domain normalised. Unicode local parts (RFC 6531) are kept as UTF-8.
Limits follow RFC 5321 §4.5.3.1: local part ≤64 octets, domain ≤255, address ≤254.
"""

from __future__ import annotations

import re

from rongmail.errors import ValidationError

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOCAL_ATOM = re.compile(r"^[^\s\"(),:;<>@\[\\\]\x00-\x1f\x7f]+$")


def normalize_domain(domain: str) -> str:
    """Return the IDNA A-label form, or raise :class:`ValidationError`."""
    d = domain.strip().rstrip(".").lower()
    if not d or len(d) > 253:
        raise ValidationError("domain.invalid", domain=domain)
    try:
        ascii_d = d.encode("idna").decode("ascii") if not d.isascii() else d
    except UnicodeError as e:
        raise ValidationError("domain.invalid", domain=domain) from e
    labels = ascii_d.split(".")
    if len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise ValidationError("domain.invalid", domain=domain)
    return ascii_d


def domain_to_unicode(domain: str) -> str:
    try:
        return domain.encode("ascii").decode("idna")
    except UnicodeError:
        return domain


def split_address(address: str) -> tuple[str, str]:
    """Split and validate ``local@domain``; returns (local, domain) un-normalised."""
    a = address.strip()
    if a.startswith("<") and a.endswith(">"):
        a = a[1:-1]
    local, sep, domain = a.rpartition("@")
    if not sep or not local or not domain:
        raise ValidationError("address.invalid", address=address)
    if len(local.encode()) > 64 or not _LOCAL_ATOM.match(local) or local.startswith("."):
        if not (local.startswith('"') and local.endswith('"') and len(local) > 2):
            raise ValidationError("address.invalid", address=address)
    return local, domain


def normalize_address(address: str) -> str:
    """``Zhang.San@例子.中国`` -> ``zhang.san@xn--fsqu00a.xn--fiqs8s``."""
    local, domain = split_address(address)
    try:
        d = normalize_domain(domain)
    except ValidationError as e:
        raise ValidationError("address.invalid", address=address) from e
    out = f"{local.lower()}@{d}"
    if len(out.encode()) > 254:
        raise ValidationError("address.invalid", address=address)
    return out


def strip_subaddress(local: str, separator: str = "+") -> str:
    """Plus-addressing (RFC 5233): ``user+tag`` -> ``user``."""
    if separator and separator in local:
        base = local.split(separator, 1)[0]
        return base or local
    return local
