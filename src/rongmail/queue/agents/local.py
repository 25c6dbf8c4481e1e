"""Local delivery: queued recipients of our own domains go into mailboxes through ``actions``.

Recipient resolution (the directory decides, nothing here guesses): an account address; the
same with a ``+tag`` removed (plus-addressing, RFC 5233 style); an alias or group, expanded
recursively (at most :data:`MAX_EXPANSION_DEPTH` levels, loops ignored); a domain alias
(``alias_of``); the domain's catch-all. External alias members are handed back to the caller
(the scheduler re-queues them as a forward).

All local recipients of one job are stored by one :func:`actions.messages.do_deliver` call:
one blob write and one transaction, change rows published to the bus (IMAP IDLE, JMAP push).
The recipient's ``role`` column (``inbox`` or ``junk``, set by the inbound pipeline from DMARC
and spam verdicts) picks the folder. A stage slot for user rules (Sieve) is :attr:`rules`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from rongmail.actions.context import ActionContext
from rongmail.actions.messages import Target, do_deliver
from rongmail.core.address import normalize_address
from rongmail.errors import MailError, QuotaExceeded, TooLarge, ValidationError
from rongmail.queue.agents.base import DeliveryJob, Outcome
from rongmail.store.sql import directory as d

log = logging.getLogger(__name__)

MAX_EXPANSION_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Resolved:
    account_ids: tuple[int, ...] = ()
    external: tuple[str, ...] = ()

    @property
    def unknown(self) -> bool:
        return not self.account_ids and not self.external


#: A user-rules stage (Sieve later): given the account and the default target, return the
#: targets to deliver to (empty list = discard). Must not write the store itself.
RulesStage = Callable[[int, Target, bytes], Awaitable[list[Target]]]


async def resolve_recipient(ctx: ActionContext, address: str) -> Resolved:
    accounts: list[int] = []
    external: list[str] = []
    seen: set[str] = set()

    async def walk(addr: str, depth: int) -> None:
        try:
            a = normalize_address(addr)
        except ValidationError:
            return
        if a in seen or depth > MAX_EXPANSION_DEPTH:
            return
        seen.add(a)
        local, _, domain_name = a.rpartition("@")
        candidates = [a]
        if "+" in local:
            candidates.append(f"{local.split('+', 1)[0]}@{domain_name}")
        for cand in candidates:
            acct = await ctx.meta.read(d.get_account_by_address(cand))
            if acct is not None and not acct.disabled:
                if acct.id not in accounts:
                    accounts.append(acct.id)
                return
            alias = await ctx.meta.read(d.get_alias(cand))
            if alias is not None and not alias.disabled:
                for member in alias.members:
                    await walk(member, depth + 1)
                return
        domain = await ctx.meta.read(d.get_domain(domain_name))
        if domain is None:
            external.append(addr)
            return
        if domain.alias_of is not None:
            target = await ctx.meta.read(d.get_domain_by_id(domain.alias_of))
            if target is not None:
                await walk(f"{local}@{target.name}", depth + 1)
                return
        if domain.catch_all:
            await walk(domain.catch_all, depth + 1)

    await walk(address, 0)
    return Resolved(tuple(accounts), tuple(external))


class LocalAgent:
    def __init__(
        self,
        ctx: ActionContext,
        *,
        forward: Callable[[DeliveryJob, Sequence[str]], Awaitable[None]] | None = None,
        rules: RulesStage | None = None,
    ) -> None:
        self.ctx = ctx
        self.forward = forward
        self.rules = rules

    async def deliver(self, job: DeliveryJob) -> list[Outcome]:
        outcomes: dict[int, Outcome] = {}
        targets: list[Target] = []
        owners: list[int] = []  # recipient id per target
        forwards: list[str] = []
        for r in job.recipients:
            res = await resolve_recipient(self.ctx, r.rcpt)
            if res.unknown:
                outcomes[r.id] = Outcome(r.id, "failed", 550, "5.1.1", "550 5.1.1 no such user")
                continue
            forwards.extend(res.external)
            for account_id in res.account_ids:
                default = Target(account_id, role=r.role)
                chosen = [default]
                if self.rules is not None:
                    chosen = await self.rules(account_id, default, job.data)
                targets.extend(chosen)
                owners.extend([r.id] * len(chosen))
            outcomes.setdefault(
                r.id, Outcome(r.id, "delivered", 250, "2.0.0", "250 2.0.0 delivered")
            )
        if targets:
            failure = await self._store(job.data, targets)
            if failure is not None:
                for rid in set(owners):
                    outcomes[rid] = Outcome(rid, failure[0], failure[1], failure[2], failure[3])
        if forwards and self.forward is not None:
            await self.forward(job, forwards)
        return [outcomes[r.id] for r in job.recipients]

    async def _store(self, data: bytes, targets: list[Target]) -> tuple[str, int, str, str] | None:
        try:
            await do_deliver(self.ctx, data, targets)
        except QuotaExceeded:
            # Over quota is usually fixed by the user soon: retry (Postfix does the same).
            return "deferred", 452, "4.2.2", "452 4.2.2 mailbox full"
        except TooLarge:
            return "failed", 552, "5.3.4", "552 5.3.4 message too large"
        except MailError as e:
            if e.temporary:
                return "deferred", 451, "4.3.0", "451 4.3.0 temporary local failure"
            log.warning("local delivery failed: %s", e)
            return "failed", 554, "5.3.0", "554 5.3.0 local delivery failed"
        return None
