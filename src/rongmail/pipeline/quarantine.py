"""A :class:`~rongmail.pipeline.ports.Delivery` that holds messages in quarantine (issue 9).

``app.py`` wraps the normal delivery: ``QuarantineDelivery(ActionDelivery(ctx, reader), ctx)``.
When the DATA verdict carries

* ``spam.quarantine`` (inbound, from :mod:`rongmail.pipeline.stages.spam`): the message is
  stored with its trace and verdict headers and held, one quarantine row per local recipient
  account, instead of being delivered;
* ``outbound.hold`` (submission, from :mod:`rongmail.pipeline.stages.outbound`): the message
  is held, not queued, and the tenant's admins are alerted;

otherwise the inner delivery runs unchanged (when the inbound verdict was clean,
``spam.deliver``, :class:`~rongmail.pipeline.delivery.ActionDelivery` counts the From address
as a correspondent of the tenant, so later mail from it is no first contact). Holding is one
action
(:func:`rongmail.actions.spam.do_quarantine_message`: blob fsynced, then one transaction), so
the ``250`` that follows is as durable as a delivery. Release goes through the quarantine API.
"""

from __future__ import annotations

import logging
import re
from email.header import decode_header, make_header

from rongmail.actions.context import ActionContext
from rongmail.actions.spam import (
    SPAM_HEADER,
    HeldMessage,
    do_alert_outbound_abuse,
    do_quarantine_message,
)
from rongmail.errors import ValidationError
from rongmail.pipeline.envelope import Envelope
from rongmail.pipeline.ports import Delivery
from rongmail.pipeline.stage import Verdict
from rongmail.pipeline.stages.outbound import HOLD_TAG, hold_reason
from rongmail.pipeline.stages.spam import QUARANTINE_TAG
from rongmail.pipeline.stages.submission import header_fields

log = logging.getLogger(__name__)


def _decoded(message: bytes, name: bytes) -> str:
    for field, value in header_fields(message):
        if field == name:
            text = value.decode("utf-8", "replace")
            try:
                return str(make_header(decode_header(text)))[:500]
            except (ValueError, LookupError):
                return text[:500]
    return ""


_TAG_RE = re.compile(r"([A-Z0-9_]+)\(([+-][0-9.]+)\)")


def _spam_header(verdict: Verdict) -> str:
    return next((v for n, v in verdict.headers if n.lower() == SPAM_HEADER.lower()), "")


def _tags(verdict: Verdict) -> tuple[dict[str, object], ...]:
    """Each tag with its weight (from the verdict's ``X-RongMail-Spam`` header, i.e. the
    tenant's weights) and its reason in both languages, strongest first."""
    from rongmail.services.spam import registry

    reg = registry()
    weights = {m[1]: float(m[2]) for m in _TAG_RE.finditer(_spam_header(verdict))}
    names = {t[5:] for t in verdict.tags if t.startswith("spam:")} | set(weights)
    out: list[dict[str, object]] = []
    for name in names:
        info = reg.get(name)
        out.append({"name": name,
                    "score": weights.get(name, info.score if info else 0.0),
                    "reason": info.en if info else "", "reason_zh": info.zh if info else ""})
    out.sort(key=lambda x: (-abs(float(str(x["score"]))), str(x["name"])))
    return tuple(out)


def _score(verdict: Verdict) -> float:
    m = re.search(r"score=(-?[0-9.]+)", _spam_header(verdict))
    return float(m[1]) if m else 0.0


class QuarantineDelivery:
    def __init__(self, inner: Delivery, ctx: ActionContext, *, alert: bool = True) -> None:
        self._inner = inner
        self._ctx = ctx
        self._alert = alert

    async def deliver(self, env: Envelope, verdict: Verdict) -> str:
        message = env.message
        if message is None or not env.rcpts:
            raise ValidationError(what="message")
        outbound = HOLD_TAG in verdict.tags and env.auth is not None
        if not outbound and QUARANTINE_TAG not in verdict.tags:
            return await self._inner.deliver(env, verdict)
        raw = env.trace + b"".join(f"{n}: {v}\r\n".encode() for n, v in verdict.headers) + message
        rcpts = tuple(r.address for r in env.rcpts)
        common = {"mail_from": env.mail_from or "", "rcpts": rcpts,
                  "from_header": _decoded(message, b"from"),
                  "subject": _decoded(message, b"subject"), "score": _score(verdict),
                  "tags": _tags(verdict)}
        if outbound and env.auth is not None:
            held = HeldMessage(tenant_id=env.auth.tenant_id, direction="outbound",
                               account_ids=(env.auth.account_id,), **common)  # type: ignore[arg-type]
            ids = await do_quarantine_message(self._ctx, raw, held)
            reason = hold_reason(verdict) or "spam"
            if self._alert and reason != "flagged":  # flagged: the first hold alerted already
                await do_alert_outbound_abuse(self._ctx, env.auth.tenant_id, env.auth.address,
                                              reason=reason, detail=f"quarantine {ids[0]}")
            return f"H{ids[0]}"
        accounts: list[int] = []
        tenant: int | None = None
        for r in env.rcpts:
            if r.is_local:
                tenant = tenant if tenant is not None else r.resolution.tenant_id
                accounts.extend(a for a in r.resolution.account_ids if a not in accounts)
        if tenant is None:  # nobody of ours to hold it for: deliver as the verdict says (Junk)
            return await self._inner.deliver(env, verdict)
        held = HeldMessage(tenant_id=tenant, direction="inbound", account_ids=tuple(accounts),
                           **common)  # type: ignore[arg-type]
        ids = await do_quarantine_message(self._ctx, raw, held)
        log.info("quarantined session=%s ids=%s", env.session_id, ids)
        return f"H{ids[0]}"
