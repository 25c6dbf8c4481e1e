"""Admin API behaviour over real HTTP: scopes (tenants, domains), sensitive groups, role
assignment limits, CSRF on the session cookie, the OpenAPI document, tenant limits and the
feature menu, password policy, bulk import (CSV and .xlsx), DNS wizard state, DKIM rotation,
provider credentials, the queue view and the audit log."""

from __future__ import annotations

import io

import aiohttp
from admin_helpers import PASSWORD, AdminEnv

# runs on SQLite and (marker "postgres") on PostgreSQL: the admin SQL is shared by both


async def test_sensitive_group_members_are_guarded(admin: AdminEnv) -> None:
    for role in ("tenant_admin", "domain_admin"):
        for method, path, body in (
                ("POST", "/users/fin@acme.test/delegations", {"grantee": "victim@acme.test"}),
                ("POST", "/users/fin@acme.test/search", {"query": "salary"}),
                ("POST", "/users/fin@acme.test/password", {"password": "N3w-Passw0rd!x"})):
            status, body_ = await admin.call(role, method, path, body)
            assert status == 403, (role, path, body_)
    status, _ = await admin.call("helpdesk", "POST", "/users/fin@acme.test/password",
                                 {"password": "N3w-Passw0rd!x"})
    assert status == 403
    # the same actions on an ordinary user work
    status, _ = await admin.call("tenant_admin", "POST", "/users/victim@acme.test/delegations",
                                 {"grantee": "fin@acme.test", "rights": "lr"})
    assert status == 200
    status, found = await admin.call("domain_admin", "POST", "/users/victim@acme.test/search",
                                     {"query": "salary"})
    assert status == 200 and found["total"] == 0
    # a super admin may, and it is audited
    status, _ = await admin.call("super_admin", "POST", "/users/fin@acme.test/search",
                                 {"query": "salary"})
    assert status == 200
    _, log = await admin.call("auditor", "GET", "/audit")
    assert any(e["action"] == "mail.search" and e["target"] == "fin@acme.test"
               for e in log["entries"])
    # the user record says so
    _, u = await admin.call("super_admin", "GET", "/users/fin@acme.test")
    assert u["sensitive"] is True
    # joining the group protects a mailbox at once
    status, g = await admin.call("tenant_admin", "PATCH", "/aliases/finance@acme.test",
                                 {"add": ["Far@acme2.test"]})
    assert status == 200 and g["members"] == ["far@acme2.test", "fin@acme.test"]
    status, _ = await admin.call("tenant_admin", "POST", "/users/far@acme2.test/search",
                                 {"query": "x"})
    assert status == 403
    status, _ = await admin.call("tenant_admin", "PATCH", "/aliases/finance@acme.test",
                                 {"remove": ["far@acme2.test"]})
    assert status == 200
    # only a super admin marks groups sensitive
    status, _ = await admin.call("tenant_admin", "PUT", "/aliases/finance@acme.test/sensitive",
                                 {"sensitive": False})
    assert status == 403
    status, _ = await admin.call("super_admin", "PUT", "/aliases/finance@acme.test/sensitive",
                                 {"sensitive": False})
    assert status == 200
    status, _ = await admin.call("tenant_admin", "POST", "/users/fin@acme.test/search",
                                 {"query": "x"})
    assert status == 200


async def test_tenants_are_isolated(admin: AdminEnv) -> None:
    status, _ = await admin.call("tenant_admin", "GET", "/users/bob@other.test")
    assert status == 404  # not 403: another tenant's objects do not exist for us
    status, _ = await admin.call("tenant_admin", "GET", f"/tenants/{admin.ids['other']}")
    assert status == 404
    _, tl = await admin.call("tenant_admin", "GET", "/tenants")
    assert [t["name"] for t in tl["tenants"]] == ["acme"]
    _, tl = await admin.call("super_admin", "GET", "/tenants")
    assert {t["name"] for t in tl["tenants"]} == {"acme", "other"}
    _, doms = await admin.call("other_admin", "GET", "/domains")
    assert [d["name"] for d in doms["domains"]] == ["other.test"]
    status, _ = await admin.call("other_admin", "POST", "/domains",
                                 {"name": "evil.test", "tenantId": admin.ids["acme"]})
    assert status == 404
    status, _ = await admin.call("other_admin", "POST", "/users",
                                 {"address": "mole@acme.test", "password": PASSWORD})
    assert status == 404
    _, users = await admin.call("other_admin", "GET", "/users")
    assert {u["address"] for u in users["users"]} == {"bob@other.test", "boss@other.test"}


async def test_domain_admin_scope(admin: AdminEnv) -> None:
    _, doms = await admin.call("domain_admin", "GET", "/domains")
    assert [d["name"] for d in doms["domains"]] == ["acme.test"]
    _, users = await admin.call("domain_admin", "GET", "/users")
    assert all(u["address"].endswith("@acme.test") for u in users["users"])
    status, _ = await admin.call("domain_admin", "GET", "/users/far@acme2.test")
    assert status == 403
    status, _ = await admin.call("domain_admin", "POST", "/users",
                                 {"address": "x@acme2.test", "password": PASSWORD})
    assert status == 403
    status, u = await admin.call("domain_admin", "POST", "/users",
                                 {"address": "new@acme.test", "password": PASSWORD,
                                  "displayName": "New"})
    assert status == 201 and u["address"] == "new@acme.test"


async def test_role_assignment_limits(admin: AdminEnv) -> None:
    status, _ = await admin.call("tenant_admin", "PUT", "/users/victim@acme.test/role",
                                 {"role": "super_admin"})
    assert status == 403
    status, _ = await admin.call("tenant_admin", "PUT", "/users/superadmin@acme.test/role",
                                 {"role": "user"})
    assert status == 403  # cannot demote a super admin
    status, _ = await admin.call("tenant_admin", "PUT", "/users/victim@acme.test/role",
                                 {"role": "domain_admin", "domains": ["acme2.test"]})
    assert status == 200
    _, me = await admin.call("super_admin", "GET", "/users/victim@acme.test")
    assert me["role"] == "domain_admin"
    status, _ = await admin.call("tenant_admin", "PUT", "/users/victim@acme.test/role",
                                 {"role": "helpdesk", "domains": ["other.test"]})
    assert status in (400, 404)
    # helpdesk resets users' passwords but not an admin's (no takeover of a stronger account)
    status, _ = await admin.call("helpdesk", "POST", "/users/tenantadmin@acme.test/password",
                                 {"password": "N3w-Passw0rd!x"})
    assert status == 403
    for method, body in (("PATCH", {"disabled": True}), ("DELETE", None)):
        status, _ = await admin.call("domain_admin", method, "/users/tenantadmin@acme.test", body)
        assert status == 403  # no disabling or deleting a stronger admin
    status, _ = await admin.call("helpdesk", "POST", "/users/far@acme2.test/password",
                                 {"password": "N3w-Passw0rd!x"})
    assert status == 200
    acct = await admin.reader.account_by_address("far@acme2.test")
    from rongmail.services.auth.passwords import verify_password

    assert verify_password(acct.password_hash, "N3w-Passw0rd!x")


async def test_session_cookie_needs_csrf(admin: AdminEnv) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as s:
        r = await s.post(admin.base + "/api/login",
                         json={"username": "tenantadmin@acme.test", "password": PASSWORD})
        assert r.status == 200
        csrf = (await r.json())["csrfToken"]
        r = await s.get(admin.base + "/api/admin/me")
        assert r.status == 200 and (await r.json())["role"] == "tenant_admin"
        body = {"address": "c@acme.test", "password": PASSWORD}
        r = await s.post(admin.base + "/api/admin/users", json=body)
        assert r.status == 403
        r = await s.post(admin.base + "/api/admin/users", json=body,
                         headers={"X-CSRF-Token": csrf})
        assert r.status == 201


async def test_openapi_document(admin: AdminEnv) -> None:
    from rongmail.protocols.http.admin import ENDPOINTS
    from rongmail.protocols.http.security import CONSOLE

    async with admin.http.get(admin.base + "/api/admin/openapi.json") as r:
        assert r.status == 200
        doc = await r.json()
    assert doc["openapi"].startswith("3.")
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert len(ops) == len(ENDPOINTS) + len(CONSOLE)  # the security console too (session only)
    unlock = doc["paths"]["/api/admin/security/accounts/{address}/unlock"]["post"]
    assert unlock["security"] == [{"session": []}] and unlock["x-rongmail-permission"] == "user.write"
    op = doc["paths"]["/api/admin/users/{address}/password"]["post"]
    assert op["x-rongmail-permission"] == "user.password"
    assert "helpdesk" in op["x-rongmail-roles"] and "auditor" not in op["x-rongmail-roles"]
    assert doc["paths"]["/api/admin/queue/{id}/{verb}"]["post"]["parameters"][1]["name"] == "verb"
    from openapi_spec_validator import validate

    validate(doc)  # a valid OpenAPI 3.1 document


async def test_tenant_limits_features_and_policy(admin: AdminEnv) -> None:
    tid = admin.ids["acme"]
    status, t = await admin.call("super_admin", "PATCH", f"/tenants/{tid}",
                                 {"quotaBytes": 10 << 30, "maxAccounts": 50,
                                  "features": {"archiving": True, "ai_inbox": True}})
    assert status == 200 and t["features"]["archiving"] and t["maxAccounts"] == 50
    assert t["features"]["smart_relay"] is False
    status, _ = await admin.call("super_admin", "PATCH", f"/tenants/{tid}",
                                 {"features": {"teleport": True}})
    assert status == 400
    _, t = await admin.call("tenant_admin", "GET", f"/tenants/{tid}",
                            headers={"Accept-Language": "zh-CN"})
    assert t["features"]["ai_inbox"] and t["accounts"] >= 6
    assert {f["name"] for f in t["featureMenu"]} >= {"archiving", "smart_relay", "ai_inbox"}
    status, p = await admin.call("tenant_admin", "PUT", f"/tenants/{tid}/password-policy",
                                 {"minLength": 12, "minClasses": 3})
    assert status == 200 and p["minLength"] == 12
    status, err = await admin.call("tenant_admin", "POST", "/users",
                                   {"address": "weak@acme.test", "password": "alllowercase12"})
    assert status == 400 and err["title"] == "password.too_simple"
    status, _ = await admin.call("tenant_admin", "POST", "/users",
                                 {"address": "strong@acme.test", "password": "Strong-pass-12"})
    assert status == 201
    _, log = await admin.call("auditor", "GET", "/audit")
    actions = [e["action"] for e in log["entries"]]
    assert "tenant.update" in actions and "policy.update" in actions
    assert "user.create" in actions


async def _upload(admin: AdminEnv, role: str, name: str, data: bytes,
                  dry: bool = False) -> tuple[int, dict]:  # type: ignore[type-arg]
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name)
    return await admin.call(role, "POST", "/users/import" + ("?dryRun=1" if dry else ""),
                            data=form)


async def test_bulk_import_csv_report(admin: AdminEnv) -> None:
    csv = (b"address,display_name,password,quota_mb\n"
           b"a1@acme.test,Alpha,Alpha-pass-123,100\n"
           b"a2@acme.test,Beta,,0\n"
           b"bad-address,Gamma,Gamma-pass-123,0\n"
           b"a1@acme.test,Dup,Alpha-pass-123,0\n"
           b"x@nosuch.test,Nope,Alpha-pass-123,0\n"
           b"a3@acme.test,Short,short,0\n"
           b"a4@acme.test,Quota,Alpha-pass-123,lots\n"
           b"z@acme2.test,Other domain,Alpha-pass-123,0\n")
    status, dry = await _upload(admin, "domain_admin", "u.csv", csv, dry=True)
    assert status == 200 and dry["dryRun"] and dry["created"] == 2
    assert await admin.reader.account_by_address("a1@acme.test") is None
    status, rep = await _upload(admin, "domain_admin", "u.csv", csv)
    assert status == 200
    by_line = {r["line"]: r for r in rep["rows"]}
    assert [by_line[i]["status"] for i in range(2, 10)] == [
        "created", "created", "error", "error", "error", "error", "error", "error"]
    assert by_line[3]["generatedPassword"]  # blank password: generated, shown once
    assert by_line[5]["problem"] and by_line[9]["problem"]  # duplicate; out of scope
    a1 = await admin.reader.account_by_address("a1@acme.test")
    assert a1.display_name == "Alpha" and a1.quota_bytes == 100 * 1024 * 1024
    # the Chinese export of an HR system, in GB18030, with Chinese headers
    gb = "\u90ae\u7bb1,\u59d3\u540d,\u5bc6\u7801\nli@acme.test,\u674e\u56db,Li-pass-1234\n"
    status, rep = await _upload(admin, "tenant_admin", "hr.csv", gb.encode("gb18030"))
    assert status == 200 and rep["created"] == 1
    li = await admin.reader.account_by_address("li@acme.test")
    assert li.display_name == "\u674e\u56db"


async def test_bulk_import_xlsx(admin: AdminEnv) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Email", "Name", "Quota"])
    for i in range(50):
        ws.append([f"staff{i:02d}@acme.test", f"Staff {i}", 512])
    ws.append(["staff00@acme.test", "again", 1])
    buf = io.BytesIO()
    wb.save(buf)
    status, rep = await _upload(admin, "tenant_admin", "staff.xlsx", buf.getvalue())
    assert status == 200, rep
    assert rep["created"] == 50 and rep["failed"] == 1
    assert all(r["generatedPassword"] for r in rep["rows"] if r["status"] == "created")
    _, users = await admin.call("tenant_admin", "GET", "/users?domain=acme.test")
    assert sum(u["address"].startswith("staff") for u in users["users"]) == 50
    status, err = await _upload(admin, "tenant_admin", "x.xlsx", b"PK\x03\x04 not a zip")
    assert status == 400 and err["title"] == "admin.import.bad_file"


async def test_dns_wizard_plan_zone_dkim_provider(admin: AdminEnv) -> None:
    status, w = await admin.call("domain_admin", "PUT", "/domains/acme.test/dns/settings", {
        "hosts": [{"name": "mx1.acme.test", "ipv4": ["203.0.113.10"]},
                  {"name": "mx2.acme.test", "ipv4": ["198.51.100.7"], "site": "backup"}],
        "relays_ip4": ["192.0.2.1"], "dmarc_stage": "quarantine", "dmarc_pct": 25})
    assert status == 200 and w["mta_sts_id"]
    # the policy id is stable while the policy is unchanged (pushes stay idempotent)
    _, w2 = await admin.call("domain_admin", "PUT", "/domains/acme.test/dns/settings", {
        "hosts": w["hosts"], "relays_ip4": ["192.0.2.1", "192.0.2.2"],
        "dmarc_stage": "quarantine", "dmarc_pct": 25})
    assert w2["mta_sts_id"] == w["mta_sts_id"]
    for alg in ("rsa", "ed25519"):
        status, k = await admin.call("domain_admin", "POST", "/domains/acme.test/dkim",
                                     {"algorithm": alg})
        assert status == 201 and k["txt"].startswith("v=DKIM1")
    status, k2 = await admin.call("domain_admin", "POST", "/domains/acme.test/dkim",
                                  {"algorithm": "rsa", "selector": "rot2"})
    assert status == 201
    _, p = await admin.call("domain_admin", "GET", "/domains/acme.test/dns/plan",
                            headers={"Accept-Language": "zh-CN"})
    types = {(r["type"], r["name"]) for r in p["records"]}
    assert ("MX", "acme.test.") in types and ("TXT", "_dmarc.acme.test.") in types
    assert all(r["explanation"] and r["explanation"] != r["why"] for r in p["records"])
    dkim_names = [r["name"] for r in p["records"] if "_domainkey" in r["name"]]
    assert len(dkim_names) == 3  # rotation overlap: the retiring RSA key stays published
    assert {k["state"] for k in p["dkim"]} == {"active", "retiring"}
    mx = sorted(r["value"] for r in p["records"] if r["type"] == "MX")
    assert mx == ["10 mx1.acme.test.", "20 mx2.acme.test."]
    assert p["notes"] and "mx: mx2.acme.test" in p["mtaStsPolicy"]
    status, zone = await admin.call("domain_admin", "GET", "/domains/acme.test/dns/zone")
    assert status == 200 and "$ORIGIN acme.test." in zone and "v=DMARC1; p=quarantine" in zone
    status, _ = await admin.call("domain_admin", "PUT", "/domains/acme.test/dns/provider", {
        "kind": "aliyun", "credentials": {"access_key_id": "LTAIxx", "access_key_secret": "s3"}})
    assert status == 200
    _, prov = await admin.call("helpdesk", "GET", "/domains/acme.test/dns/provider")
    assert prov is None or "s3" not in str(prov)
    _, prov = await admin.call("domain_admin", "GET", "/domains/acme.test/dns/provider")
    assert prov == {"kind": "aliyun", "endpoint": "",
                    "credentialKeys": ["access_key_id", "access_key_secret"]}
    # a custom endpoint (where signed requests go) is for operators only
    status, _ = await admin.call("domain_admin", "PUT", "/domains/acme.test/dns/provider", {
        "kind": "aliyun", "endpoint": "http://attacker.example/",
        "credentials": {"access_key_id": "a", "access_key_secret": "b"}})
    assert status == 400


async def test_queue_view(admin: AdminEnv) -> None:
    from rongmail.actions.queue import EnvelopeRecipient, do_enqueue_message

    raw = b"From: a@acme.test\r\nTo: x@example.net\r\nSubject: secret plans\r\n\r\nbody\r\n"
    mid = await do_enqueue_message(admin.ctx, tenant_id=admin.ids["acme"], raw=raw,
                                   mail_from="victim@acme.test",
                                   recipients=[EnvelopeRecipient("x@example.net")])
    await do_enqueue_message(admin.ctx, tenant_id=admin.ids["other"], raw=raw,
                             mail_from="bob@other.test",
                             recipients=[EnvelopeRecipient("y@example.net")])
    status, q = await admin.call("auditor", "GET", "/queue")
    assert status == 200 and [m["id"] for m in q["messages"]] == [mid]
    assert "secret plans" not in str(q)  # envelopes only, never content
    status, _ = await admin.call("auditor", "POST", f"/queue/{mid}/hold")
    assert status == 403
    status, _ = await admin.call("tenant_admin", "POST", f"/queue/{mid}/hold")
    assert status == 200
    _, q = await admin.call("super_admin", "GET", "/queue")
    assert len(q["messages"]) == 2 and any(m["held"] for m in q["messages"])
    status, _ = await admin.call("other_admin", "DELETE", f"/queue/{mid}")
    assert status == 404


async def test_push_through_provider_api(admin: AdminEnv) -> None:
    """The whole API path: provider settings → diff → apply → owned records → idempotent."""
    import sys
    from pathlib import Path

    from aiohttp.test_utils import TestServer

    sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "dnsproviders"))
    from standins import Rec, Zone, cloudflare_app

    zone = Zone("acme.test", [Rec("acme.test.", "TXT", '"v=spf1 a -all"')])
    server = TestServer(cloudflare_app(zone, "tok"), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        endpoint = str(server.make_url("/client/v4"))
        status, _ = await admin.call("super_admin", "PUT", "/domains/acme.test/dns/provider", {
            "kind": "cloudflare", "endpoint": endpoint, "credentials": {"api_token": "tok"}})
        assert status == 200
        status, d = await admin.call("domain_admin", "POST", "/domains/acme.test/dns/push",
                                     {"apply": False})
        assert status == 200 and not d["applied"] and d["add"]
        assert [c["foreign"] for c in d["conflicts"]] == ['"v=spf1 a -all"']
        n_before = len(zone.records)
        assert n_before == 1
        status, d = await admin.call("domain_admin", "POST", "/domains/acme.test/dns/push",
                                     {"apply": True})
        assert status == 200 and d["applied"] and zone.rejected == []
        assert len(zone.records) == 1 + len(d["add"])
        status, d2 = await admin.call("domain_admin", "POST", "/domains/acme.test/dns/push",
                                      {"apply": False})
        assert d2["add"] == [] and d2["remove"] == []
        _, log = await admin.call("tenant_admin", "GET", "/audit")
        assert any(e["action"] == "dns.push" and e["detail"]["via"] == "cloudflare"
                   for e in log["entries"])
    finally:
        await server.close()


async def test_admin_actions_join_the_chained_audit_log(admin: AdminEnv) -> None:
    """With the identity layer's key, admin actions are also appended to the hash-chained
    security audit log (issue 8), in the same transaction as the change."""
    import secrets

    from rongmail.actions import admin as act
    from rongmail.store.sql import auth as sa

    key = secrets.token_bytes(32)
    actor = act.Actor(admin.ids["tenant_admin"], admin.ids["acme"], "192.0.2.7", audit_key=key)
    await act.do_set_password_policy(admin.ctx, actor, admin.ids["acme"], min_length=10,
                                     min_classes=2)
    rows = await admin.ctx.meta.read(sa.search_audit(category="admin"))
    assert [(r.action, r.actor_id, r.remote) for r in rows] == [
        ("policy.update", admin.ids["tenant_admin"], "192.0.2.7")]


async def test_wizard_outputs_for_the_mail_path(admin: AdminEnv) -> None:
    """The signer and the MTA-STS endpoint can use what the wizard decided: active DKIM keys
    decrypt to keys that verify against the published TXT, and the policy matches the plan."""
    import dkim

    from rongmail.services.admin.reads import AdminReader
    from rongmail.services.mailauth.dkim import DkimKey

    await admin.call("tenant_admin", "PUT", "/domains/acme.test/dns/settings", {
        "hosts": [{"name": "mx1.acme.test"}], "mta_sts_mode": "enforce"})
    _, k1 = await admin.call("tenant_admin", "POST", "/domains/acme.test/dkim",
                             {"algorithm": "rsa", "selector": "old"})
    _, k2 = await admin.call("tenant_admin", "POST", "/domains/acme.test/dkim",
                             {"algorithm": "rsa", "selector": "new"})
    reads = AdminReader(admin.ctx.meta, admin.ctx.keys)
    dom = await reads.domain("acme.test")
    keys = await reads.signing_keys(dom)
    assert [(k.selector, k.algorithm) for k in keys] == [("new", "rsa-sha256")]
    assert isinstance(keys[0], DkimKey)
    msg = b"From: a@acme.test\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n"
    sig = dkim.sign(msg, b"new", b"acme.test", keys[0].dkimpy_private(),
                    include_headers=[b"from", b"to", b"subject"])
    txt = k2["txt"].encode()
    assert dkim.verify(sig + msg, dnsfunc=lambda name, timeout=5: txt)
    policy = await reads.mta_sts_policy(dom, default_host="mail.example.com")
    assert policy is not None and "mode: enforce" in policy and "mx: mx1.acme.test" in policy
    assert k1["selector"] == "old"
