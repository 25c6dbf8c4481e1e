"""Domains and their DNS: the wizard inputs, the plan with explanations, the zone file, the
live check, DKIM keys, provider credentials and the push (diff first, then apply)."""

from __future__ import annotations

import ipaddress
from typing import Any

import dns.exception
from aiohttp import web

from rongmail.actions import accounts as acc
from rongmail.actions import admin as act
from rongmail.core.models import Domain
from rongmail.errors import NotFound, TemporaryError, ValidationError
from rongmail.i18n import t
from rongmail.protocols.http.admin import views
from rongmail.protocols.http.admin.core import AdminRequest, Endpoint, opt_bool, req_str
from rongmail.services.admin.roles import Perm, Role, Target
from rongmail.services.admin.wizard import parse_input, plan_for
from rongmail.services.dnswizard import check, plan, push
from rongmail.services.dnswizard.plan import Record
from rongmail.services.dnswizard.providers import make_provider
from rongmail.services.dnswizard.providers.base import ProviderError, push_plan
from rongmail.services.dnswizard.zonefile import render_zone


async def list_domains(r: AdminRequest) -> Any:
    doms = await r.visible_domains(Perm.DOMAIN_READ)
    return {"domains": [_domain_json(d) for d in doms]}


def _domain_json(d: Domain) -> dict[str, Any]:
    return views.domain(d)


async def create_domain(r: AdminRequest) -> Any:
    b = await r.body()
    p = r.principal
    tid = b.get("tenantId", p.tenant_id)
    if not isinstance(tid, int) or isinstance(tid, bool):
        raise ValidationError(what="tenantId")
    r.authorize(Perm.DOMAIN_WRITE, Target(tid))
    dom = await act.do_create_domain(r.deps.ctx, r.actor, tid, req_str(b, "name", max_len=253))
    return _domain_json(dom)


async def delete_domain(r: AdminRequest) -> Any:
    dom = await r.domain(r.match("name"), Perm.DOMAIN_WRITE)
    await acc.do_delete_domain(r.deps.ctx, dom.name)
    await act.do_record_audit(r.deps.ctx, r.actor, dom.tenant_id, "domain.delete", dom.name)
    return {}


# -- the plan -----------------------------------------------------------------------------------

async def _plan(r: AdminRequest, dom: Domain) -> tuple[plan.PlanInput, list[Record]]:
    stored = await r.reads.wizard_input(dom.id)
    wiz = parse_input(stored) if stored else None
    pi = plan_for(dom.name, wiz, await r.reads.dkim_keys(dom.id),
                  default_host=r.deps.settings.server.hostname)
    return pi, plan.build_plan(pi)


def _record_json(rec: Record, locale: str) -> dict[str, Any]:
    return {"name": rec.name, "type": rec.rtype, "value": rec.value, "ttl": rec.ttl,
            "why": rec.why, "explanation": t(rec.why, locale), "managed": rec.managed}


async def get_wizard(r: AdminRequest) -> Any:
    dom = await r.domain(r.match("name"), Perm.DNS_READ)
    stored = await r.reads.wizard_input(dom.id)
    return parse_input(stored or {}).model_dump(mode="json")


async def put_wizard(r: AdminRequest) -> Any:
    dom = await r.domain(r.match("name"), Perm.DNS_PUSH)
    wiz = await act.do_set_dns_wizard(r.deps.ctx, r.actor, dom, await r.body())
    return wiz.model_dump(mode="json")


async def get_plan(r: AdminRequest) -> Any:
    dom = await r.domain(r.match("name"), Perm.DNS_READ)
    pi, records = await _plan(r, dom)
    return {"domain": dom.name,
            "records": [_record_json(x, r.locale) for x in records],
            "notes": [{"key": k, "text": t(k, r.locale)} for k in plan.ha_notes(pi)],
            "mtaStsPolicy": plan.mta_sts_policy(pi) if pi.mta_sts_mode != "none" else None,
            "dkim": [{"selector": k.selector, "algorithm": k.algorithm, "state": k.state,
                      "retireAt": k.retire_at} for k in await r.reads.dkim_keys(dom.id)]}


async def get_zone(r: AdminRequest) -> web.Response:
    dom = await r.domain(r.match("name"), Perm.DNS_READ)
    _, records = await _plan(r, dom)
    return web.Response(text=render_zone(dom.name, records, locale=r.locale),
                        content_type="text/plain", headers={
                            "Content-Disposition": f'attachment; filename="{dom.name}.zone"'})


async def _resolver(r: AdminRequest, dom: Domain) -> Any:
    """Check against the server we push to when it is our own (RFC 2136), else the world."""
    prov = await r.reads.provider(dom)
    if prov is not None and prov[0].kind == "rfc2136":
        creds = prov[1]
        return check.make_resolver([creds["server"]], int(creds.get("port", 53)))
    return check.make_resolver()


async def post_check(r: AdminRequest) -> Any:
    dom = await r.domain(r.match("name"), Perm.DNS_READ)
    pi, records = await _plan(r, dom)
    res = await _resolver(r, dom)
    report = await check.check_plan(records, res)
    extra: list[tuple[str, str, str]] = []
    for h in pi.hosts:
        public = [ip for ip in (*h.ipv4, *h.ipv6) if ipaddress.ip_address(ip).is_global]
        if public:
            extra += await check.check_ptr(h.name, public, res)
    n = await check.spf_lookups(dom.name, res)
    extra.append(("spf_lookups", "ok" if n <= 10 else "wrong", str(n)))
    return {"allOk": report.all_ok and all(s == "ok" for _, s, _ in extra),
            "results": [{**_record_json(c.record, r.locale), "status": c.status,
                         "found": list(c.found), "fix": c.fix,
                         "problem": t(c.problem, r.locale) if c.problem else ""}
                        for c in report.results],
            "extra": [{"check": k, "status": s, "detail": d} for k, s, d in extra]}


async def post_dkim(r: AdminRequest) -> Any:
    dom = await r.domain(r.match("name"), Perm.DNS_PUSH)
    b = await r.body()
    row = await act.do_create_dkim_key(r.deps.ctx, r.actor, dom,
                                       req_str(b, "algorithm", max_len=16, default="rsa"),
                                       selector=req_str(b, "selector", max_len=63, default=""))
    return {"selector": row.selector, "algorithm": row.algorithm, "txt": row.public_txt}


async def get_provider(r: AdminRequest) -> Any:
    dom = await r.domain(r.match("name"), Perm.DNS_READ)
    prov = await r.reads.provider(dom)
    if prov is None:
        return {"kind": None}
    return {"kind": prov[0].kind, "endpoint": prov[0].endpoint,
            "credentialKeys": sorted(prov[1])}  # names only: secrets never leave the server


async def put_provider(r: AdminRequest) -> Any:
    dom = await r.domain(r.match("name"), Perm.DNS_PUSH)
    b = await r.body()
    creds = b.get("credentials")
    if not isinstance(creds, dict):
        raise ValidationError(what="credentials")
    endpoint = req_str(b, "endpoint", max_len=500, default="")
    if endpoint and r.principal.role is not Role.SUPER_ADMIN:
        # a custom API endpoint makes the server send signed requests anywhere: operators only
        raise ValidationError(what="endpoint")
    await act.do_set_dns_provider(r.deps.ctx, r.actor, dom, req_str(b, "kind", max_len=20),
                                  endpoint=endpoint,
                                  credentials={str(k): str(v) for k, v in creds.items()})
    return {}


def _diff_json(d: push.Diff, locale: str) -> dict[str, Any]:
    return {"add": [_record_json(x, locale) for x in d.add],
            "remove": [{"name": n, "type": ty, "value": v} for n, ty, v in d.remove],
            "conflicts": [{**_record_json(x, locale), "foreign": v} for x, v in d.conflicts],
            "unchanged": len(d.unchanged)}


async def post_push(r: AdminRequest) -> Any:
    """Body ``{"apply": false}`` shows the diff; ``{"apply": true}`` applies it."""
    dom = await r.domain(r.match("name"), Perm.DNS_PUSH)
    apply = bool(opt_bool(await r.body(), "apply"))
    prov = await r.reads.provider(dom)
    if prov is None:
        raise NotFound("dns.push.no_provider")
    row, creds = prov
    _, records = await _plan(r, dom)
    owned = await r.reads.owned_records(dom.id)
    try:
        if row.kind == "rfc2136":
            res = check.make_resolver([creds["server"]], int(creds.get("port", 53)))
            d = await push.diff(records, res, owned)
            added: list[tuple[str, str, str]] = []
            if apply and not d.empty:
                added = sorted(await push.apply(
                    dom.name, d, server=creds["server"], port=int(creds.get("port", 53)),
                    keyname=creds["keyname"], secret_b64=creds["secret"],
                    algorithm=creds.get("algorithm", "hmac-sha256")))
            removed = list(d.remove) if apply else []
        else:
            provider = make_provider(row.kind, creds, endpoint=row.endpoint)
            try:
                result = await push_plan(provider, dom.name, records, owned, dry_run=not apply)
            finally:
                await provider.close()
            d, added, removed = result.diff, result.added, result.removed
    except (KeyError, ValueError, ProviderError, RuntimeError, OSError,
            dns.exception.DNSException) as e:
        raise TemporaryError("dns.push.failed", detail=repr(e)) from None
    if apply and (added or removed):
        await act.do_record_dns_push(r.deps.ctx, r.actor, dom, added, removed, via=row.kind)
    return {"applied": apply, "provider": row.kind, **_diff_json(d, r.locale)}


_WIZARD_BODY = {"type": "object", "properties": {
    "hosts": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "ipv4": {"type": "array", "items": {"type": "string"}},
        "ipv6": {"type": "array", "items": {"type": "string"}}, "site": {"type": "string"}}}},
    "relays_ip4": {"type": "array", "items": {"type": "string"}},
    "relay_includes": {"type": "array", "items": {"type": "string"}},
    "dmarc_stage": {"enum": ["none", "quarantine", "reject"]},
    "dmarc_pct": {"type": "integer"}, "mta_sts_mode": {"enum": ["testing", "enforce", "none"]},
    "caa_issuers": {"type": "array", "items": {"type": "string"}}, "ttl": {"type": "integer"}}}
_PROVIDER_BODY = {"type": "object", "required": ["kind", "credentials"], "properties": {
    "kind": {"enum": ["aliyun", "dnspod", "huaweicloud", "cloudflare", "rfc2136"]},
    "endpoint": {"type": "string", "description": "super admins only"},
    "credentials": {"type": "object", "additionalProperties": {"type": "string"}}}}

ENDPOINTS = [
    Endpoint("GET", "/domains", Perm.DOMAIN_READ, list_domains, "Domains in scope", "domains"),
    Endpoint("POST", "/domains", Perm.DOMAIN_WRITE, create_domain, "Add a mail domain",
             "domains", {"type": "object", "required": ["name"], "properties": {
                 "name": {"type": "string"}, "tenantId": {"type": "integer"}}}, status=201),
    Endpoint("DELETE", "/domains/{name}", Perm.DOMAIN_WRITE, delete_domain,
             "Delete an empty domain", "domains"),
    Endpoint("GET", "/domains/{name}/dns/settings", Perm.DNS_READ, get_wizard,
             "The DNS wizard inputs", "dns"),
    Endpoint("PUT", "/domains/{name}/dns/settings", Perm.DNS_PUSH, put_wizard,
             "Set the DNS wizard inputs (hosts, relays, DMARC stage, MTA-STS)", "dns",
             _WIZARD_BODY),
    Endpoint("GET", "/domains/{name}/dns/plan", Perm.DNS_READ, get_plan,
             "Every record the domain needs, each with its explanation", "dns"),
    Endpoint("GET", "/domains/{name}/dns/zone", Perm.DNS_READ, get_zone,
             "The plan as an RFC 1035 zone file", "dns", produces="text/plain"),
    Endpoint("POST", "/domains/{name}/dns/check", Perm.DNS_READ, post_check,
             "Check the plan against live DNS (OK / missing / wrong, with the fix)", "dns"),
    Endpoint("POST", "/domains/{name}/dkim", Perm.DNS_PUSH, post_dkim,
             "Create or rotate a DKIM key (the old one keeps being published for a week)",
             "dns", {"type": "object", "properties": {
                 "algorithm": {"enum": ["rsa", "ed25519"]}, "selector": {"type": "string"}}},
             status=201),
    Endpoint("GET", "/domains/{name}/dns/provider", Perm.DNS_READ, get_provider,
             "The DNS provider in use (never the credentials)", "dns"),
    Endpoint("PUT", "/domains/{name}/dns/provider", Perm.DNS_PUSH, put_provider,
             "Set the DNS provider and its API credentials (stored encrypted)", "dns",
             _PROVIDER_BODY),
    Endpoint("POST", "/domains/{name}/dns/push", Perm.DNS_PUSH, post_push,
             "Diff the plan against the provider; with apply=true, apply it (never deletes "
             "records RongMail did not create)", "dns",
             {"type": "object", "properties": {"apply": {"type": "boolean"}}}),
]
