"""Policy: tags in, one action out, with the reasons.

The score is the sum of the tags' weights: a tenant's override for the tag name, else the
tag's own score (a configured per-list weight), else the registry default.
Thresholds map the score to an :class:`Action`; a tag may also force a minimum action on its own
(a dangerous attachment is quarantined whatever the score). Two invariants from DESIGN.md
rule 7:

* ``REJECT`` needs at least one *hard* tag (a DMARC ``p=reject`` failure, a virus, a zip bomb);
  a score over the reject threshold without one quarantines instead, so the content model and
  heuristics alone never refuse mail in the SMTP transaction;
* every :class:`Verdict` lists each tag with its weight and description, largest first, so an
  administrator sees why mail went where it went.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .tags import Tag, registry

__all__ = ["Action", "Policy", "ScoredTag", "Thresholds", "Verdict"]


class Action(enum.IntEnum):
    """Ordered from mildest to strongest."""

    DELIVER = 0
    JUNK = 1
    QUARANTINE = 2
    REJECT = 3

    @property
    def word(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score at or above which each action applies (per tenant)."""

    junk: float = 5.0
    quarantine: float = 10.0
    reject: float = 15.0

    def __post_init__(self) -> None:
        if not self.junk <= self.quarantine <= self.reject:
            raise ValueError("thresholds must satisfy junk <= quarantine <= reject")


@dataclass(frozen=True, slots=True)
class ScoredTag:
    tag: Tag
    score: float
    reason: str  # the registry description in the requested language


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    score: float
    tags: tuple[ScoredTag, ...]

    @property
    def tag_names(self) -> list[str]:
        return [s.tag.name for s in self.tags]

    def explain(self) -> str:
        """One line per tag, for logs and the admin console."""
        head = f"{self.action.word} score={self.score:.1f}"
        return "\n".join([head] + [f"  {s.score:+.1f} {s.tag}: {s.reason}" for s in self.tags])


class Policy:
    """Scores tags into a :class:`Verdict`. Immutable; build one per tenant settings snapshot."""

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        weights: Mapping[str, float] | None = None,
        *,
        lang: str = "zh",
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        reg = registry()
        unknown = set(weights or ()) - set(reg)
        if unknown:
            raise ValueError(f"unknown tags in weights: {sorted(unknown)}")
        self._overrides = dict(weights or {})
        self._weights = {name: info.score for name, info in reg.items()} | self._overrides
        self._lang = lang

    def weight(self, name: str) -> float:
        return self._weights.get(name, 0.0)

    def tag_weight(self, t: Tag) -> float:
        """The score of one finding: tenant override > the tag's own score > registry."""
        if t.name in self._overrides or t.score is None:
            return self.weight(t.name)
        return t.score

    def decide(self, tags: Iterable[Tag]) -> Verdict:
        reg = registry()
        scored: list[ScoredTag] = []
        floor = Action.DELIVER
        hard = False
        seen: set[Tag] = set()
        for t in tags:
            if t in seen:
                continue
            seen.add(t)
            info = reg.get(t.name)
            if info is None:  # undeclared tags carry no weight; tag() prevents them upstream
                continue
            scored.append(
                ScoredTag(t, self.tag_weight(t), info.zh if self._lang == "zh" else info.en)
            )
            if info.min_action:
                floor = max(floor, Action[info.min_action.upper()])
            hard = hard or info.hard
        score = sum(s.score for s in scored)
        th = self.thresholds
        if score >= th.reject:
            action = Action.REJECT
        elif score >= th.quarantine:
            action = Action.QUARANTINE
        elif score >= th.junk:
            action = Action.JUNK
        else:
            action = Action.DELIVER
        action = max(action, floor)
        if action is Action.REJECT and not hard:
            action = Action.QUARANTINE
        scored.sort(key=lambda s: (-abs(s.score), s.tag.name))
        return Verdict(action, round(score, 3), tuple(scored))
