"""The stage contract and the Verdict (DESIGN.md house rule 6).

A stage is a small object with a ``name``, the set of :class:`Checkpoint` s it cares about and
``async check(point, envelope) -> Verdict``. Stages hold no per-message state, never reply on the
wire and never write the store; they may hold long-lived, bounded state such as rate counters.
Detection stages (mailauth, spam) add ``headers`` (e.g. ``Authentication-Results``) and tags;
policy turns them into an :class:`Action`. Reasons carry a stable ``code`` that the protocol edge
maps to a reply (``protocols/smtp/session.py``); unknown codes get a generic policy reply.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from rongmail.pipeline.envelope import Envelope


class Checkpoint(enum.Enum):
    """Where in the SMTP dialogue stages run (RFC 5321 §3.3 transaction steps)."""

    CONNECT = "connect"
    HELO = "helo"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"


class Action(enum.IntEnum):
    """Ordered by severity: the runner keeps the most severe action any stage returned."""

    ACCEPT = 0
    JUNK = 1  # deliver to the recipient's Junk mailbox
    TEMPFAIL = 2  # 4xx: try again later
    REJECT = 3  # 5xx


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a stage decided what it did. ``code`` is stable (``recipient.unknown``)."""

    stage: str
    code: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action = Action.ACCEPT
    reasons: tuple[Reason, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # (name, value) metadata headers to add
    tags: frozenset[str] = frozenset()

    @property
    def refused(self) -> bool:
        return self.action >= Action.TEMPFAIL

    @property
    def primary(self) -> Reason | None:
        """The reason behind the action: the last one recorded by the deciding stage."""
        return self.reasons[-1] if self.reasons else None

    @classmethod
    def merge(cls, verdicts: Iterable[Verdict]) -> Verdict:
        action = Action.ACCEPT
        reasons: list[Reason] = []
        headers: list[tuple[str, str]] = []
        tags: set[str] = set()
        for v in verdicts:
            action = max(action, v.action)
            reasons.extend(v.reasons)
            headers.extend(v.headers)
            tags |= v.tags
        return cls(action, tuple(reasons), tuple(headers), frozenset(tags))


ACCEPT = Verdict()


def reject(stage: str, code: str, detail: str = "") -> Verdict:
    return Verdict(Action.REJECT, (Reason(stage, code, detail),))


def tempfail(stage: str, code: str, detail: str = "") -> Verdict:
    return Verdict(Action.TEMPFAIL, (Reason(stage, code, detail),))


class Stage(Protocol):
    name: ClassVar[str]
    checkpoints: ClassVar[frozenset[Checkpoint]]

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict: ...
