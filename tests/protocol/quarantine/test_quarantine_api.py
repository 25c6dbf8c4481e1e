"""/api/quarantine over HTTP: visibility, CSRF, release with learning, JMAP header (issue 9)."""

from __future__ import annotations

from rongmail.protocols.http.login import CSRF_HEADER
from unit.spam_integration.samples import phishing

from .conftest import QEnv


async def test_user_lists_and_releases_own_mail(qenv: QEnv) -> None:
    held = await qenv.deliver(phishing(to=qenv.user.address))
    assert held.startswith("H")
    s, csrf = await qenv.session(qenv.user.address)
    async with s:
        async with s.get(qenv.base + "/api/quarantine") as r:
            assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
            [item] = (await r.json())["items"]
        assert item["status"] == "held" and item["score"] >= 10
        assert "Wang Jianguo" in item["from"]
        names = {t["name"] for t in item["tags"]}
        assert {"IMPERSONATE_EXECUTIVE", "HTML_CREDENTIAL_FORM"} <= names
        assert all(t["reason"] and t["reason_zh"] for t in item["tags"])
        async with s.get(f"{qenv.base}/api/quarantine/{item['id']}/raw") as r:
            assert r.status == 200 and r.content_type == "message/rfc822"
            assert b"X-RongMail-Spam: quarantine;" in await r.read()
        # a state change without the CSRF header is refused
        async with s.post(f"{qenv.base}/api/quarantine/{item['id']}/release") as r:
            assert r.status == 403
        async with s.post(f"{qenv.base}/api/quarantine/{item['id']}/release",
                          headers={CSRF_HEADER: csrf}) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["status"] == "released"
        async with s.post(f"{qenv.base}/api/quarantine/{item['id']}/release",
                          headers={CSRF_HEADER: csrf}) as r:
            assert r.status == 409
        async with s.get(qenv.base + "/api/quarantine") as r:
            assert (await r.json())["items"] == []
        # the released mail is in the Inbox and carries the verdict header for the webmail
        call = {"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
                "methodCalls": [
                    ["Email/query", {"accountId": f"A{qenv.user.id}"}, "q"],
                    ["Email/get", {"accountId": f"A{qenv.user.id}",
                                   "#ids": {"resultOf": "q", "name": "Email/query",
                                            "path": "/ids"},
                                   "properties": ["subject",
                                                  "header:X-RongMail-Spam:asText:all"]}, "g"]]}
        async with s.post(qenv.base + "/jmap/api", json=call,
                          headers={CSRF_HEADER: csrf}) as r:
            assert r.status == 200, await r.text()
            got = (await r.json())["methodResponses"][1][1]["list"]
        [email] = got
        first = email["header:X-RongMail-Spam:asText:all"][0]
        assert first.startswith("quarantine;") and "HTML_CREDENTIAL_FORM(" in first
    model = await qenv.models.get(qenv.tenant_id)
    assert model.n_ham == 1  # release taught the tenant's model


async def test_others_cannot_see_or_release(qenv: QEnv) -> None:
    await qenv.deliver(phishing(to=qenv.user.address))
    s, csrf = await qenv.session(qenv.other.address)
    async with s:
        async with s.get(qenv.base + "/api/quarantine") as r:
            assert (await r.json())["items"] == []
        async with s.get(qenv.base + "/api/quarantine?scope=tenant") as r:
            assert r.status == 403
        async with s.post(qenv.base + "/api/quarantine/1/release",
                          headers={CSRF_HEADER: csrf}) as r:
            assert r.status == 404
    async with __import__("aiohttp").ClientSession() as anon, \
            anon.get(qenv.base + "/api/quarantine") as r:
        assert r.status == 401


async def test_admin_sees_tenant_and_deletes(qenv: QEnv) -> None:
    await qenv.deliver(phishing(to=qenv.user.address))
    second = await qenv.deliver(phishing(to=qenv.other.address), to=qenv.other)
    assert second.startswith("H"), second
    s, csrf = await qenv.session(qenv.admin.address)
    async with s:
        async with s.get(qenv.base + "/api/quarantine?scope=tenant") as r:
            items = (await r.json())["items"]
        assert {i["accountId"] for i in items} == {qenv.user.id, qenv.other.id}
        async with s.post(f"{qenv.base}/api/quarantine/{items[0]['id']}/delete",
                          headers={CSRF_HEADER: csrf}) as r:
            assert r.status == 200 and (await r.json())["status"] == "deleted"
        async with s.get(qenv.base + "/api/quarantine?scope=tenant&status=deleted") as r:
            assert len((await r.json())["items"]) == 1
        async with s.get(qenv.base + "/api/quarantine?status=bogus") as r:
            assert r.status == 400
    assert (await qenv.models.get(qenv.tenant_id)).n_spam == 1


async def test_malware_release_is_for_admins_only(qenv: QEnv) -> None:
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"] = "Invoices <billing@vendor.example>"
    m["To"] = qenv.user.address
    m["Subject"] = "Invoice 2026-11"
    m["Date"] = "Fri, 27 Nov 2026 08:00:00 +0800"
    m["Message-ID"] = "<inv1@vendor.example>"
    m.set_content("Please see the attached invoice.\n")
    m.add_attachment(b"MZ\x90\x00" + b"\x00" * 200, maintype="application",
                     subtype="octet-stream", filename="invoice.pdf.exe")
    assert (await qenv.deliver(m.as_bytes())).startswith("H")
    s, csrf = await qenv.session(qenv.user.address)
    async with s:
        async with s.get(qenv.base + "/api/quarantine") as r:
            [item] = (await r.json())["items"]
        assert any(t["name"].startswith("ATTACH_") for t in item["tags"])
        async with s.post(f"{qenv.base}/api/quarantine/{item['id']}/release",
                          headers={CSRF_HEADER: csrf}) as r:
            assert r.status == 403
    s, csrf = await qenv.session(qenv.admin.address)
    async with s, s.post(f"{qenv.base}/api/quarantine/{item['id']}/release",
                         headers={CSRF_HEADER: csrf}) as r:
        assert r.status == 200
