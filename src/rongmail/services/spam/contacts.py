"""First-contact detection: whether a tenant has corresponded with an address before.

The store keeps per-tenant counters (``spam_contact``, migration 0105) keyed by
:func:`contact_keys`: the lower-cased address and, unless the domain is a free-mail provider,
``@domain``. Keys are counted when the tenant's users *send* to an address (queued
submissions) and when clean mail *from* it is delivered to an Inbox.
:func:`is_first_contact` reads those counts: an address is known when the tenant wrote to it,
received clean mail from it, or wrote to anyone at its (non-free-mail) domain, so a new
colleague at a known partner is not a first contact but a new Gmail address is.

Pure functions only; the pipeline stage does the store read, ``actions.spam`` the writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["FREEMAIL_DOMAINS", "all_keys", "contact_keys", "is_first_contact"]

#: Mailbox providers where one user says nothing about another (domain rows are not used).
FREEMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.jp",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.com",
        "gmx.de",
        "mail.com",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "mail.ru",
        "zoho.com",
        "qq.com",
        "foxmail.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "aliyun.com",
        "139.com",
        "189.cn",
        "wo.cn",
        "tom.com",
        "21cn.com",
    }
)


def contact_keys(address: str) -> list[str]:
    """The ``spam_contact`` keys of ``address``: itself, plus ``@domain`` unless free-mail;
    ``[]`` for a null or malformed address."""
    addr = address.strip().strip("<>").lower()
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or " " in addr:
        return []
    domain = domain.rstrip(".")
    keys = [f"{local}@{domain}"]
    if domain not in FREEMAIL_DOMAINS:
        keys.append(f"@{domain}")
    return keys


def all_keys(addresses: Iterable[str]) -> list[str]:
    """Every key of every address, without duplicates, in order."""
    return list(dict.fromkeys(k for a in addresses for k in contact_keys(a)))


def is_first_contact(address: str, counts: Mapping[str, tuple[int, int]]) -> bool:
    """``counts`` = ``{key: (sent, received)}`` from the store for ``contact_keys(address)``."""
    keys = contact_keys(address)
    if not keys:
        return False  # no usable address: not evidence of anything
    sent, received = counts.get(keys[0], (0, 0))
    if sent > 0 or received > 0:
        return False
    if len(keys) > 1 and counts.get(keys[1], (0, 0))[0] > 0:
        return False
    return True
