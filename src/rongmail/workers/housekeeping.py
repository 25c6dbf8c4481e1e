"""Housekeeping: retention of the tables that grow with every event.

Role: a pass every hour (the first ten minutes after start, not while caches are cold) that
removes what the server no longer needs, each through its action:

* change-log rows older than ``storage.change_log_days`` (:mod:`rongmail.actions.changes`);
  clients whose state is older resynchronize (IMAP lists the mailbox, JMAP answers
  ``cannotCalculateChanges``);
* login events and kinds of login older than the risk window ``security.risk.history_days``
  (``actions.auth.do_purge_login_history``; scoring reads nothing older);
* audit entries older than ``security.audit_retention_days`` (at least 180), the chain
  recording each prune (``actions.auth.do_prune_audit``);
* expired web sessions and bearer tokens, the session details of signed-out ones, and stale
  wipe requests (``actions.jmap.do_purge_expired_sessions``);
* EmailSubmission objects whose sending ended more than :data:`SUBMISSION_DAYS` ago (RFC 8621
  §7; logged destroyed for JMAP clients, ``actions.jmap.do_purge_submissions``);
* quarantine rows released or deleted more than :data:`QUARANTINE_HISTORY_DAYS` ago (held
  ones are expired by the daily digest worker, ``actions.spam.do_purge_decided_quarantine``);
* the spam learner's per-message records (``spam_learned``) of messages that no longer exist;
  those of existing messages stay, so no decision is learned twice
  (``actions.spam.do_purge_orphan_learned``);
* JMAP uploads (``jmap_upload``) older than :data:`UPLOAD_HOURS` (RFC 8620 §6.1; an upload
  row keeps its blob from GC while it lives, emails made from it keep their own reference,
  ``actions.jmap.do_purge_uploads``);
* admin-console audit rows (``admin_audit``, not hash-chained) older than
  ``security.audit_retention_days``, like the chained log (``actions.admin.do_prune_admin_audit``).

Every node runs it; the deletes are idempotent, so two nodes pruning at once cost only the
duplicated reads. A failing step is logged and the next step still runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from rongmail.actions.admin import do_prune_admin_audit
from rongmail.actions.auth import do_prune_audit, do_purge_login_history
from rongmail.actions.changes import do_prune_change_log
from rongmail.actions.context import ActionContext
from rongmail.actions.jmap import do_purge_expired_sessions, do_purge_submissions, do_purge_uploads
from rongmail.actions.spam import do_purge_decided_quarantine, do_purge_orphan_learned

log = logging.getLogger(__name__)

#: finished EmailSubmission objects are kept this long (their delivery status stays visible)
SUBMISSION_DAYS = 30
#: released or deleted quarantine rows stay this long as history for the admin
QUARANTINE_HISTORY_DAYS = 30
#: uploaded blobs are usable through their upload this long (RFC 8620 §6.1: at least an hour)
UPLOAD_HOURS = 24


async def housekeeping_once(ctx: ActionContext, *, audit_key: bytes | None = None,
                            now: int | None = None) -> dict[str, int]:
    """One pass; returns the rows removed per step (a failed step is absent; the audit step
    runs only with the chain's ``audit_key``)."""
    now = int(time.time()) if now is None else now
    settings = ctx.settings
    steps: dict[str, Callable[[], Awaitable[int]]] = {
        "change_log": lambda: do_prune_change_log(
            ctx, before=now - settings.storage.change_log_days * 86400),
        "login_history": lambda: do_purge_login_history(
            ctx, before=now - settings.security.risk.history_days * 86400),
        "sessions": lambda: do_purge_expired_sessions(ctx, now=now),
        "submissions": lambda: do_purge_submissions(ctx, before=now - SUBMISSION_DAYS * 86400),
        "quarantine": lambda: do_purge_decided_quarantine(
            ctx, before=now - QUARANTINE_HISTORY_DAYS * 86400),
        "spam_learned": lambda: do_purge_orphan_learned(ctx),
        "uploads": lambda: do_purge_uploads(ctx, before=now - UPLOAD_HOURS * 3600),
        "admin_audit": lambda: do_prune_admin_audit(
            ctx, before=now - settings.security.audit_retention_days * 86400),
    }
    if audit_key is not None:
        key = audit_key
        steps["audit_log"] = lambda: do_prune_audit(
            ctx, key, before=now - settings.security.audit_retention_days * 86400)
    done: dict[str, int] = {}
    for name, step in steps.items():
        try:
            done[name] = await step()
        except Exception:
            log.exception("housekeeping step %s failed", name)
    removed = {k: v for k, v in done.items() if v}
    if removed:
        log.info("housekeeping removed %s", removed)
    return done


async def run_housekeeping(ctx: ActionContext, *, audit_key: bytes | None = None,
                           every: float = 3600.0, first: float = 600.0) -> None:
    """A pass every ``every`` seconds, the first ``first`` seconds after start."""
    await asyncio.sleep(first)
    while True:
        await housekeeping_once(ctx, audit_key=audit_key)
        await asyncio.sleep(every)
