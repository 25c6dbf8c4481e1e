"""The durable outbound queue: scheduler, retry policy, DSNs and delivery agents.

``app.py`` builds it with :func:`build_scheduler` and runs ``scheduler.run()`` as a task;
SMTP/submission enqueue through :func:`rongmail.actions.queue.do_enqueue_message` and then call
``scheduler.wake()``.
"""

from __future__ import annotations

from rongmail.actions.context import ActionContext
from rongmail.config.queue import QueueSettings
from rongmail.queue.agents.local import LocalAgent, RulesStage
from rongmail.queue.agents.relay import RelayAgent
from rongmail.queue.agents.smtp_remote import RemoteSmtpAgent
from rongmail.queue.mta_sts import HttpsPolicyFetcher, MtaSts, PolicyFetcher
from rongmail.queue.scheduler import Scheduler
from rongmail.queue.signing import DomainSigner
from rongmail.services.dns import DnsResolver
from rongmail.store.sql import directory as d


def build_scheduler(
    ctx: ActionContext,
    resolver: DnsResolver,
    settings: QueueSettings,
    *,
    hostname: str,
    sts_fetcher: PolicyFetcher | None = None,
    rules: RulesStage | None = None,
) -> Scheduler:
    """Wire agents and the scheduler from settings (the composition root calls this)."""
    helo = settings.helo_name or hostname

    async def is_local(domain: str) -> bool:
        dom = await ctx.meta.read(d.get_domain(domain))
        return dom is not None and not dom.disabled

    mta_sts = None
    if settings.mta_sts:
        fetcher = sts_fetcher or HttpsPolicyFetcher(resolver, ca_file=settings.tls_ca_file)
        mta_sts = MtaSts(resolver, ctx, fetcher)
    local = LocalAgent(ctx, rules=rules)
    scheduler = Scheduler(
        ctx,
        settings,
        hostname=hostname,
        local=local,
        remote=RemoteSmtpAgent(resolver, settings, helo=helo, mta_sts=mta_sts),
        relays={r.name: RelayAgent(resolver, r, settings, helo=helo) for r in settings.routes},
        is_local=is_local,
        sign=DomainSigner(ctx).sign,
    )
    local.forward = scheduler.forward
    return scheduler


__all__ = ["Scheduler", "build_scheduler"]
