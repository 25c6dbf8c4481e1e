"""What the scheduler hands a delivery agent, and what it gets back.

A :class:`DeliveryJob` is one message and a batch of its recipients that share a destination
(one domain, one route, or local). An agent returns exactly one :class:`Outcome` per
recipient and never raises for delivery problems: a problem is an outcome (``deferred`` or
``failed``) with an RFC 3463 status, which the scheduler records and reports in DSNs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rongmail.store.sql.queue import QueuedMessage, QueuedRecipient


@dataclass(frozen=True, slots=True)
class Outcome:
    recipient_id: int
    state: str  # delivered | deferred | failed
    code: int | None
    status: str | None
    reply: str
    remote_host: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    message: QueuedMessage
    recipients: tuple[QueuedRecipient, ...]
    #: The bytes to send: the message's ``prepend`` header lines followed by the stored blob.
    data: bytes


class DeliveryAgent(Protocol):
    async def deliver(self, job: DeliveryJob) -> list[Outcome]: ...


def all_outcomes(
    job: DeliveryJob, state: str, status: str, reply: str, *, code: int | None = None,
    remote_host: str = "",
) -> list[Outcome]:  # fmt: skip
    """The same outcome for every recipient of ``job``."""
    return [Outcome(r.id, state, code, status, reply, remote_host) for r in job.recipients]
