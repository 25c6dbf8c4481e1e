"""Tags: what analyzers report, from a closed registry shipped in ``rules/tags.toml``.

An analyzer never decides; it emits :class:`Tag` values (DESIGN.md rule 7). Each tag name must be
declared in the registry, which gives the default score, an optional minimum action, whether
the tag is *hard* evidence (allowed to reject at SMTP time) and descriptions for administrators
in English and Chinese. :func:`registry` loads it once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["Tag", "TagInfo", "registry", "tag"]

RULES_DIR = Path(__file__).with_name("rules")


@dataclass(frozen=True, slots=True)
class Tag:
    """One finding. ``detail`` is operator-facing evidence (a domain, a file name), never HTML.

    ``score``, when set, replaces the registry score for this one finding (a configured
    per-list weight, e.g. one DNSBL zone trusted more than another); a tenant's own weight for
    the tag name still wins in :class:`~.policy.Policy`.
    """

    name: str
    detail: str = ""
    score: float | None = None

    def __str__(self) -> str:
        return f"{self.name}({self.detail})" if self.detail else self.name


@dataclass(frozen=True, slots=True)
class TagInfo:
    name: str
    score: float
    min_action: str | None
    hard: bool
    en: str
    zh: str


@cache
def registry() -> dict[str, TagInfo]:
    """The declared tags, by name."""
    data = tomllib.loads((RULES_DIR / "tags.toml").read_text(encoding="utf-8"))
    return {
        name: TagInfo(
            name=name,
            score=float(v["score"]),
            min_action=v.get("min_action"),
            hard=bool(v.get("hard", False)),
            en=v["en"],
            zh=v["zh"],
        )
        for name, v in data.items()
    }


def tag(name: str, detail: str = "", score: float | None = None) -> Tag:
    """Build a tag, refusing names missing from the registry (a programming error)."""
    if name not in registry():
        raise KeyError(f"undeclared tag {name!r}")
    return Tag(name, detail[:200], score)
