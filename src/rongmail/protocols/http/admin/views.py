"""JSON shapes of admin objects (camelCase, like the webmail's JMAP). Secrets never appear:
no password hashes, no provider credentials, no private keys."""

from __future__ import annotations

from typing import Any

from rongmail.core.models import Account, Alias, Domain, Tenant
from rongmail.i18n import t
from rongmail.services.admin import features as feat
from rongmail.services.admin.reads import AuditRow, PolicyRow, QueueView
from rongmail.services.admin.roles import Role


def tenant(tn: Tenant, usage: tuple[int, int] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": tn.id, "name": tn.name, "displayName": tn.display_name,
        "quotaBytes": tn.quota_bytes, "maxAccounts": tn.max_accounts,
        "features": feat.effective(tn.features), "disabled": tn.disabled,
        "createdAt": tn.created_at}
    if usage is not None:
        out["accounts"], out["usedBytes"] = usage
    return out


def features_menu(locale: str) -> list[dict[str, Any]]:
    return [{"name": k, "default": v, "label": t(f"admin.feature.{k}", locale)}
            for k, v in feat.DEFAULTS.items()]


def domain(dm: Domain) -> dict[str, Any]:
    return {"id": dm.id, "tenantId": dm.tenant_id, "name": dm.name, "aliasOf": dm.alias_of,
            "disabled": dm.disabled, "createdAt": dm.created_at}


def account(a: Account, *, sensitive: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id, "tenantId": a.tenant_id, "domainId": a.domain_id, "address": a.address,
        "displayName": a.display_name, "kind": a.kind, "role": str(Role.parse(a.role)),
        "quotaBytes": a.quota_bytes, "usedBytes": a.used_bytes, "disabled": a.disabled,
        "createdAt": a.created_at}
    if sensitive is not None:
        out["sensitive"] = sensitive
    return out


def alias(a: Alias, *, sensitive: bool = False) -> dict[str, Any]:
    return {"id": a.id, "tenantId": a.tenant_id, "address": a.address, "kind": a.kind,
            "displayName": a.display_name, "disabled": a.disabled,
            "members": list(a.members), "sensitive": sensitive}


def policy(p: PolicyRow) -> dict[str, Any]:
    return {"minLength": p.min_length, "minClasses": p.min_classes,
            "maxAgeDays": p.max_age_days, "history": p.history}


def audit(r: AuditRow) -> dict[str, Any]:
    return {"id": r.id, "at": r.at, "actorId": r.actor_id, "tenantId": r.tenant_id,
            "action": r.action, "target": r.target, "detail": r.detail, "remote": r.remote}


def queued(q: QueueView) -> dict[str, Any]:
    return {"id": q.id, "tenantId": q.tenant_id, "from": q.mail_from, "size": q.size,
            "createdAt": q.created_at, "recipients": q.recipients, "pending": q.pending,
            "nextAttemptAt": q.next_attempt_at, "held": q.held, "lastReply": q.last_reply}
