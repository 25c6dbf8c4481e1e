"""The DNS wizard against a real authoritative server (Knot DNS from Debian) on 127.0.0.x:
plan → check (all missing) → RFC 2136 push with TSIG → check all green → break a record by
hand → the check names it and the fix → push again → green. Records the wizard did not create
are never deleted."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import dns.asyncquery
import dns.update
import pytest

from rongmail.services.dnswizard import check, plan, push
from rongmail.services.dnswizard.zonefile import render_zone
from rongmail.services.mailauth.dkim import generate_dkim_key

pytestmark = pytest.mark.peer

ZONE = "corp.test"
KEY = "rongmail-update"


class UpdatableKnot:
    """Knot with a TSIG key allowed to update ``corp.test``."""

    def __init__(self, workdir: Path) -> None:
        from peers.dns_server import KnotServer

        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        secret = self.secret

        class _K(KnotServer):  # type: ignore[misc,valid-type]
            def _config(self) -> str:
                conf = super()._config()
                keys = (
                    f"key:\n  - id: {KEY}\n    algorithm: hmac-sha256\n"
                    f"    secret: {secret}\nacl:\n  - id: upd\n    key: {KEY}\n"
                    f"    action: update\n"
                )
                conf = conf.replace("zone:\n", keys + "zone:\n")
                return conf.replace(f"  - domain: {ZONE}.", f"  - domain: {ZONE}.\n    acl: upd")

        self.server = _K(workdir, {ZONE: []})


@pytest.fixture
def knot(tmp_path: Path):  # type: ignore[no-untyped-def]
    from peers import PeerUnavailable, skip_or_fail

    k = UpdatableKnot(tmp_path)
    try:
        k.server.start()
    except PeerUnavailable as e:
        skip_or_fail(str(e))
    try:
        yield k
    finally:
        k.server.stop()


def make_plan() -> plan.PlanInput:
    rsa = generate_dkim_key(ZONE, "rm2026r", "rsa-sha256")
    ed = generate_dkim_key(ZONE, "rm2026e", "ed25519-sha256")
    return plan.PlanInput(
        domain=ZONE,
        hosts=(plan.MailHost("mail.corp.test", ipv4=("127.0.0.1",)),),
        dkim=(plan.DkimSelector("rm2026r", rsa.txt), plan.DkimSelector("rm2026e", ed.txt)),
        relays_ip4=("203.0.113.5",),
        dmarc_stage="quarantine",
        dmarc_pct=50,
        mta_sts_id="20261127000000",
        caa_iodef="mailto:security@corp.test",
    )


async def test_push_check_break_fix(knot) -> None:  # type: ignore[no-untyped-def]
    srv = knot.server
    res = check.make_resolver([srv.address], srv.port)
    pi = make_plan()
    records = plan.build_plan(pi)
    before = await check.check_plan(records, res)
    assert {r.status for r in before.results} == {"missing"}

    d = await push.diff(records, res, owned=set())
    assert len(d.add) == len(records) and not d.remove and not d.conflicts
    owned = await push.apply(
        ZONE, d, server=srv.address, port=srv.port, keyname=KEY, secret_b64=knot.secret
    )
    after = await check.check_plan(records, res)
    bad = [(r.record.name, r.record.rtype, r.status) for r in after.results if r.status != "ok"]
    assert bad == []
    assert await check.spf_lookups(ZONE, res) == 1  # "mx"

    # a human deletes the DKIM key and replaces SPF with their own value
    dkim = next(r for r in records if r.name.startswith("rm2026r._domainkey"))
    spf = next(r for r in records if r.rtype == "TXT" and "v=spf1" in r.value)
    human = dns.update.UpdateMessage(ZONE, keyring=push.tsig_keyring(KEY, knot.secret), keyname=KEY)
    human.delete(dkim.name, "TXT")
    human.delete(spf.name, "TXT", spf.value)
    human.add(spf.name, 300, "TXT", '"v=spf1 a -all"')
    await dns.asyncquery.tcp(human, srv.address, port=srv.port, timeout=5)

    broken = await check.check_plan(records, res)
    by_name = {(r.record.name, r.record.rtype, r.record.value): r for r in broken.results}
    r_dkim = by_name[(dkim.name, "TXT", dkim.value)]
    assert r_dkim.status == "missing" and r_dkim.fix.startswith(dkim.name)
    r_spf = by_name[(spf.name, "TXT", spf.value)]
    assert r_spf.status == "wrong" and '"v=spf1 a -all"' in r_spf.found
    assert "remove" in r_spf.fix and "v=spf1 mx" in r_spf.fix

    d2 = await push.diff(records, res, owned=owned)
    assert {r.name for r in d2.add} == {dkim.name, spf.name}
    assert d2.remove == []  # the human's SPF is not ours: never deleted...
    assert [c[1] for c in d2.conflicts] == ['"v=spf1 a -all"']  # ...but reported
    owned |= await push.apply(
        ZONE, d2, server=srv.address, port=srv.port, keyname=KEY, secret_b64=knot.secret
    )
    fixed = await check.check_plan(records, res)
    assert all(r.status == "ok" for r in fixed.results)
    live, _ = await check.lookup(res, spf.name, "TXT")
    assert '"v=spf1 a -all"' in [rd.to_text() for rd in live]  # still there

    # a later plan change (DMARC to reject) replaces our own old value
    pi2 = plan.PlanInput(**{**pi.__dict__, "dmarc_stage": "reject"})
    d3 = await push.diff(plan.build_plan(pi2), res, owned=owned)
    assert any("_dmarc" in n for n, _, _ in d3.remove)
    await push.apply(
        ZONE, d3, server=srv.address, port=srv.port, keyname=KEY, secret_b64=knot.secret
    )
    final = await check.check_plan(plan.build_plan(pi2), res)
    assert all(r.status == "ok" for r in final.results)


async def test_wrong_tsig_key_is_refused(knot) -> None:  # type: ignore[no-untyped-def]
    srv = knot.server
    records = plan.build_plan(make_plan())
    res = check.make_resolver([srv.address], srv.port)
    d = await push.diff(records, res, owned=set())
    with pytest.raises(Exception):  # noqa: B017 - dnspython raises its TSIG/refusal errors
        await push.apply(
            ZONE,
            d,
            server=srv.address,
            port=srv.port,
            keyname=KEY,
            secret_b64=base64.b64encode(secrets.token_bytes(32)).decode(),
        )
    assert {r.status for r in (await check.check_plan(records, res)).results} == {"missing"}


def test_zone_export_parses_back() -> None:
    import dns.zone

    records = plan.build_plan(make_plan())
    text = render_zone(ZONE, records, locale="en")
    z = dns.zone.from_text(
        "$TTL 3600\n@ IN SOA ns. h. 1 1 1 1 1\n@ IN NS ns.\n" + text,
        origin=ZONE + ".",
        relativize=False,
        check_origin=False,
    )
    assert z.get_rdataset(ZONE + ".", "MX") is not None
    assert "; " in text
