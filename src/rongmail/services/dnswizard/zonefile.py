"""Export a plan as an RFC 1035 master file ($ORIGIN-relative names, one comment per record)."""

from __future__ import annotations

from rongmail.i18n import t
from rongmail.services.dnswizard.plan import Record, fqdn


def render_zone(domain: str, records: list[Record], *, locale: str = "zh-CN") -> str:
    origin = fqdn(domain)
    lines = [f"$ORIGIN {origin}", "$TTL 3600", ""]
    for r in records:
        name = r.name
        if name == origin:
            rel = "@"
        elif name.endswith("." + origin):
            rel = name[: -len(origin) - 1]
        else:
            rel = name
        lines.append(f"; {t(r.why, locale)}")
        lines.append(f"{rel}\t{r.ttl}\tIN\t{r.rtype}\t{r.value}")
    return "\n".join(lines) + "\n"
