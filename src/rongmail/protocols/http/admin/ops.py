"""Operations views: the outbound queue (envelopes and delivery state, never content) and the
admin audit log. Auditors read both; only admins act on the queue."""

from __future__ import annotations

from typing import Any

from rongmail.actions import admin as act
from rongmail.actions import queue as qact
from rongmail.errors import NotFound, ValidationError
from rongmail.protocols.http.admin import views
from rongmail.protocols.http.admin.core import AdminRequest, Endpoint
from rongmail.services.admin.roles import Perm, Role, Target


def _scope(r: AdminRequest) -> int | None:
    return None if r.principal.role is Role.SUPER_ADMIN else r.principal.tenant_id


async def list_queue(r: AdminRequest) -> Any:
    return {"messages": [views.queued(q) for q in await r.reads.queue(_scope(r))]}


async def _queued_id(r: AdminRequest) -> int:
    try:
        mid = int(r.match("id"))
    except ValueError:
        raise NotFound(what="message") from None
    tid = await r.reads.queue_message_tenant(mid)
    if tid is None:
        raise NotFound(what="message")
    r.authorize(Perm.QUEUE_WRITE, Target(tid))
    return mid


async def queue_action(r: AdminRequest) -> Any:
    mid = await _queued_id(r)
    verb = r.match("verb")
    ctx = r.deps.ctx
    if verb == "retry":
        await qact.do_retry_queue_message(ctx, mid)
    elif verb == "hold":
        await qact.do_hold_queue_message(ctx, mid)
    elif verb == "release":
        await qact.do_release_queue_message(ctx, mid)
    else:
        raise ValidationError(what="verb")
    await act.do_record_audit(ctx, r.actor, r.principal.tenant_id, f"queue.{verb}", str(mid))
    return {}


async def delete_queued(r: AdminRequest) -> Any:
    mid = await _queued_id(r)
    await qact.do_delete_queue_message(r.deps.ctx, mid)
    await act.do_record_audit(r.deps.ctx, r.actor, r.principal.tenant_id, "queue.delete",
                              str(mid))
    return {}


async def list_audit(r: AdminRequest) -> Any:
    before = r.http.query.get("before")
    rows = await r.reads.audit(_scope(r), before_id=int(before) if before and before.isdigit()
                               else None)
    return {"entries": [views.audit(x) for x in rows]}


ENDPOINTS = [
    Endpoint("GET", "/queue", Perm.QUEUE_READ, list_queue,
             "The outbound queue (mail flow): envelopes and delivery state", "operations"),
    Endpoint("POST", "/queue/{id}/{verb:retry|hold|release}", Perm.QUEUE_WRITE, queue_action,
             "Retry now, hold or release a queued message", "operations"),
    Endpoint("DELETE", "/queue/{id}", Perm.QUEUE_WRITE, delete_queued,
             "Drop a queued message", "operations"),
    Endpoint("GET", "/audit", Perm.AUDIT_READ, list_audit, "The admin audit log, newest first",
             "operations", query={"before": "page: entries with a smaller id"}),
]
