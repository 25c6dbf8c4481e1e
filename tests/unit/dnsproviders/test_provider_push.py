"""Each provider pushes the wizard's plan to a local stand-in of its API (signatures and payloads
verified by the stand-in): dry run changes nothing, apply makes every planned record exist,
a second diff is empty, a plan change replaces only our own old value, records a human made are
never deleted (a competing SPF is reported as a conflict), and a wrong secret is refused with
nothing changed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from standins import Rec, Zone, aliyun_app, cloudflare_app, dnspod_app, huawei_app

from rongmail.services.dnswizard import plan
from rongmail.services.dnswizard.providers import ProviderError, make_provider
from rongmail.services.dnswizard.providers.base import canon, diff_live, push_plan
from rongmail.services.mailauth.dkim import generate_dkim_key

ZONE = "corp.test"


@dataclass
class Case:
    kind: str
    app: Callable[[Zone], web.Application]
    creds: dict[str, str]
    bad: dict[str, str]
    path: str = "/"


CASES = {
    "aliyun": Case("aliyun", lambda z: aliyun_app(z, "LTAI5tExample", "aliyun-secret"),
                   {"access_key_id": "LTAI5tExample", "access_key_secret": "aliyun-secret"},
                   {"access_key_id": "LTAI5tExample", "access_key_secret": "wrong"}),
    "dnspod": Case("dnspod", lambda z: dnspod_app(z, "AKIDexample", "tc-secret"),
                   {"secret_id": "AKIDexample", "secret_key": "tc-secret"},
                   {"secret_id": "AKIDexample", "secret_key": "wrong"}),
    "huaweicloud": Case("huaweicloud", lambda z: huawei_app(z, "HWAK", "hw-secret"),
                        {"access_key": "HWAK", "secret_key": "hw-secret"},
                        {"access_key": "HWAK", "secret_key": "wrong"}, path=""),
    "cloudflare": Case("cloudflare", lambda z: cloudflare_app(z, "cf-token"),
                       {"api_token": "cf-token"}, {"api_token": "wrong"},
                       path="/client/v4"),
}


def make_plan(stage: str = "quarantine") -> list[plan.Record]:
    rsa = generate_dkim_key(ZONE, "rm1r", "rsa-sha256")
    ed = generate_dkim_key(ZONE, "rm1e", "ed25519-sha256")
    return plan.build_plan(plan.PlanInput(
        domain=ZONE, hosts=(plan.MailHost("mail.corp.test", ipv4=("203.0.113.9",)),),
        dkim=(plan.DkimSelector("rm1r", rsa.txt), plan.DkimSelector("rm1e", ed.txt)),
        relays_ip4=("198.51.100.1",), dmarc_stage=stage,  # type: ignore[arg-type]
        dmarc_pct=50, mta_sts_id="20261127000000"))


@pytest.fixture(params=list(CASES))
async def env(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Case, Zone, str]]:
    case = CASES[request.param]
    zone = Zone(ZONE, [
        # what a human already has: a website, someone's SPF, an unrelated TXT
        Rec("www.corp.test.", "A", "192.0.2.80"),
        Rec("corp.test.", "TXT", '"v=spf1 a -all"'),
        Rec("corp.test.", "TXT", '"google-site-verification=abc"'),
    ])
    server = TestServer(case.app(zone), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield case, zone, str(server.make_url(case.path)).rstrip("/") + (
            "/" if case.kind in ("aliyun", "dnspod") else "")
    finally:
        await server.close()


def _state(zone: Zone) -> set[tuple[str, str, str]]:
    return {(r.name, r.type, canon(r.type, r.value)) for r in zone.records}


async def test_push_flow(env: tuple[Case, Zone, str]) -> None:
    case, zone, endpoint = env
    records = make_plan()
    provider = make_provider(case.kind, case.creds, endpoint=endpoint)
    try:
        before = _state(zone)
        dry = await push_plan(provider, ZONE, records, set(), dry_run=True)
        assert _state(zone) == before and zone.rejected == []
        assert len(dry.diff.add) == len(records)
        assert [c[1] for c in dry.diff.conflicts] == ['"v=spf1 a -all"']

        res = await push_plan(provider, ZONE, records, set())
        assert zone.rejected == [], zone.rejected
        owned = set(res.added)
        have = _state(zone)
        for r in records:
            assert (r.name, r.rtype, canon(r.rtype, r.value)) in have, r
        assert before <= have  # nothing of the human's was touched

        again = diff_live(records, await provider.list_records(ZONE), owned)
        assert again.add == [] and again.remove == []

        # DMARC goes to reject: our old value is replaced, the human's SPF still stands
        new = make_plan("reject")
        res2 = await push_plan(provider, ZONE, new, owned)
        assert zone.rejected == []
        assert any(n.startswith("_dmarc.") for n, _, _ in res2.removed)
        dmarc = [r.value for r in zone.records if r.name == "_dmarc.corp.test."]
        assert len(dmarc) == 1 and "p=reject" in dmarc[0]
        assert before <= _state(zone)
    finally:
        await provider.close()


async def test_wrong_secret_is_refused(env: tuple[Case, Zone, str]) -> None:
    case, zone, endpoint = env
    provider = make_provider(case.kind, case.bad, endpoint=endpoint)
    before = _state(zone)
    try:
        with pytest.raises(ProviderError):
            await push_plan(provider, ZONE, make_plan(), set())
    finally:
        await provider.close()
    assert zone.rejected and _state(zone) == before


def test_diff_never_deletes_foreign_values() -> None:
    from rongmail.services.dnswizard.providers.base import LiveRecord

    records = make_plan()
    spf = next(r for r in records if "v=spf1" in r.value)
    live = [LiveRecord("corp.test.", "TXT", '"v=spf1 include:old.example -all"', 600, "1"),
            LiveRecord("mta-sts.corp.test.", "CNAME", "elsewhere.example.", 600, "2")]
    d = diff_live(records, live, owned=set())
    assert d.remove == []
    assert {c[1] for c in d.conflicts} == {'"v=spf1 include:old.example -all"',
                                           "elsewhere.example."}
    d2 = diff_live(records, live, owned={("corp.test.", "TXT",
                                          '"v=spf1 include:old.example -all"')})
    assert d2.remove == [("corp.test.", "TXT", '"v=spf1 include:old.example -all"')]
    assert spf in d2.add
