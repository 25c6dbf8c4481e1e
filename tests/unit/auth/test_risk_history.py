"""Risk scoring over a long login history: the kinds of login kept in ``login_seen``
(``store.sql.auth.login_history`` and ``failures_after``, what ``Authenticator`` reads; migration
0406) decide exactly as every raw event of the history window scored in Python would, for novel
and known networks, countries, regions and devices, failure bursts, country hopping and an
admin's risk reset; a client that logs in every few minutes does not push older networks out of
the history; old logins are purged with their summary."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from rongmail.services.auth import risk
from rongmail.services.auth.authenticate import BURST_WINDOW
from rongmail.store.sql import auth as sa

NETS = [f"10.{i}.0.0/24" for i in range(12)]
COUNTRIES = ["CN", "CN", "CN", "US", "JP", "DE"]
REGIONS = {"CN": ["CN-SC", "CN-BJ", "CN-GD"], "US": ["US-CA"], "JP": [""], "DE": [""]}


def _seed(account_id: int, now: int, rng: random.Random) -> Iterator[Any]:
    """1,200 events over 20 days; the oldest 700 use networks 8-11 only (beyond the latest 500
    events, which were all the former query read), the latest ones include failures and
    refusals in the last hour."""
    for i in range(1200):
        at = now - 30 - i * 1400
        old = i >= 500
        net = rng.choice(NETS[8:] if old else NETS[:8])
        cc = rng.choice(COUNTRIES)
        outcome = rng.choice(["success"] * 6 + ["failure", "refused"])
        if i < 12:  # a burst in the last quarter hour, from abroad, and one success
            outcome = "success" if i == 11 else rng.choice(["failure", "refused"])
            at, cc = now - 20 - i * 60, ("JP", "DE", "US")[i % 3]
        dev = rng.choice(["", "d1", "d2", "d3"])
        yield from sa.insert_login_event(account_id, at, "10.0.0.1", net, cc, dev, "imap",
                                         "password", outcome, 0, rng.choice(REGIONS[cc]))


def _reference(cfg: Any, ctx: risk.LoginContext, rows: list[sa.LoginEventRow],
               reset_at: int, from_ip: int) -> risk.Decision:
    """The meaning: every raw row of the window, failures counted in Python."""
    failures = sum(1 for h in rows if h.outcome == "failure"
                   and ctx.now - h.at < BURST_WINDOW and h.at > reset_at)
    return risk.score(cfg, ctx, rows, recent_failures=failures, accounts_from_ip=from_ip,
                      timezone="Asia/Shanghai", reset_at=reset_at)


async def test_grouped_history_decides_as_the_rows_did(sec) -> None:  # type: ignore[no-untyped-def]
    meta, auth = sec.ctx.meta, sec.auth
    cfg = auth.security.settings.risk
    cfg = cfg.model_copy(update={"burst_failures": 3, "quiet_hours": (0, 0)})
    auth.security.settings = auth.security.settings.model_copy(update={"risk": cfg})
    rng = random.Random(4)
    now = 1_790_000_000
    uid = sec.user.id
    await meta.write(_seed(uid, now, rng))  # history behind the recorder's back (test setup)
    since = now - cfg.history_days * 86400
    rows = await meta.read(sa.login_events(uid, since, limit=10_000))
    kinds = await meta.read(sa.login_history(uid, since))
    assert len(rows) == 1200 and len(kinds) < 500  # all of them, under the read bound
    contexts = [
        risk.LoginContext("10.0.0.9", net, cc, dev, now, region)
        for net in (NETS[0], NETS[9], "192.0.2.0/24")
        for cc, region in (("CN", "CN-SC"), ("CN", "CN-XZ"), ("US", "US-CA"), ("FR", ""), ("", ""))
        for dev in ("", "d1", "d9")
    ]
    outcomes: set[tuple[str, tuple[str, ...]]] = set()
    for reset_at in (0, now - 600, now - 60):
        await meta.write(sa.set_frozen(uid, None, "", now=reset_at))
        from_ip = await meta.read(sa.accounts_from_ip("10.0.0.9", now - 3600))
        for ctx in contexts:
            got = await auth._score(sec.user, ctx)
            want = _reference(cfg, ctx, rows, reset_at, from_ip)
            assert got == want, (ctx, reset_at)
            outcomes.add((got.outcome, got.reasons))
    # the comparison covered every decision and the signals that read the history
    assert {o for o, _ in outcomes} == {risk.ALLOW, risk.STEP_UP, risk.FREEZE}
    fired = {r for _, reasons in outcomes for r in reasons}
    assert {"new_network", "new_country", "new_region", "new_device", "impossible_travel",
            "failure_burst", "country_hopping"} <= fired, fired


async def test_failures_are_counted_after_the_threshold(sec) -> None:  # type: ignore[no-untyped-def]
    meta, uid, now = sec.ctx.meta, sec.user.id, 1_790_000_000

    def seed() -> Iterator[Any]:
        for at, outcome in ((now - 100, "failure"), (now - 120, "success"),
                            (now - 200, "failure"), (now - 2000, "failure")):
            yield from sa.insert_login_event(uid, at, "10.0.0.1", NETS[0], "CN", "", "imap",
                                             "password", outcome, 0)

    await meta.write(seed())
    assert await meta.read(sa.failures_after(uid, now - 150)) == 1
    assert await meta.read(sa.failures_after(uid, now - 5000)) == 3
    # failures are counted, not history: only the success is a kind of login scoring reads
    kinds = await meta.read(sa.login_history(uid, 0))
    assert [(k.outcome, k.at) for k in kinds] == [("success", now - 120)]


async def test_a_polling_client_does_not_crowd_out_older_networks(sec) -> None:  # type: ignore[no-untyped-def]
    """Foxmail polling POP3 every five minutes logs in 288 times a day: the former query read
    the latest 500 events, so after two days the office network the user came from before
    counted as new (``new_network``). The kinds of login keep it for the whole window."""
    meta, auth, uid, now = sec.ctx.meta, sec.auth, sec.user.id, 1_790_000_000
    office, home = NETS[1], NETS[2]

    def seed() -> Iterator[Any]:
        yield from sa.insert_login_event(uid, now - 3 * 86400, "10.1.0.7", office, "CN", "",
                                         "imap", "password", "success", 0)
        for i in range(600):  # two days of polls from home, the latest a minute ago
            yield from sa.insert_login_event(uid, now - 60 - i * 300, "10.2.0.9", home, "CN",
                                             "", "pop3", "password", "success", 0)

    await meta.write(seed())
    latest = await meta.read(sa.login_events(uid, 0))  # the former window: 500 events
    assert office not in {e.net for e in latest}
    decision = await auth._score(sec.user, risk.LoginContext("10.1.0.8", office, "CN", "", now))
    assert "new_network" not in decision.reasons, decision
    elsewhere = await auth._score(sec.user, risk.LoginContext("10.3.0.1", NETS[3], "CN", "", now))
    assert "new_network" in elsewhere.reasons  # the signal itself still fires


async def test_purge_forgets_old_logins_and_their_kinds(sec) -> None:  # type: ignore[no-untyped-def]
    meta, uid, now = sec.ctx.meta, sec.user.id, 1_790_000_000

    def seed() -> Iterator[Any]:
        for i in range(30):  # NETS[5]: old only; NETS[6]: old and recent
            yield from sa.insert_login_event(uid, now - 100 * 86400 - i, "10.5.0.1", NETS[5],
                                             "CN", "", "imap", "password", "success", 0)
            yield from sa.insert_login_event(uid, now - 100 * 86400 - i, "10.6.0.1", NETS[6],
                                             "CN", "", "imap", "password", "success", 0)
        yield from sa.insert_login_event(uid, now - 10, "10.6.0.1", NETS[6], "CN", "", "imap",
                                         "password", "success", 0)

    await meta.write(seed())
    before = now - 90 * 86400
    assert await meta.write(sa.purge_login_history(before, limit=25)) == 25
    assert await meta.write(sa.purge_login_history(before, limit=25)) == 25
    assert await meta.write(sa.purge_login_history(before, limit=25)) == 10
    assert await meta.write(sa.purge_login_history(before, limit=25)) == 0
    events = await meta.read(sa.login_events(uid, 0))
    assert [(e.net, e.at) for e in events] == [(NETS[6], now - 10)]
    kinds = await meta.read(sa.login_history(uid, 0))
    assert [(k.net, k.at) for k in kinds] == [(NETS[6], now - 10)]


async def test_housekeeping_purges_history_beyond_the_window(sec) -> None:  # type: ignore[no-untyped-def]
    """The hourly housekeeping pass forgets the logins older than the risk window
    (``security.risk.history_days``): without it ``login_event`` grew by every poll of every
    client, forever."""
    from rongmail.workers.housekeeping import housekeeping_once

    meta, uid, now = sec.ctx.meta, sec.user.id, 1_790_000_000
    assert sec.ctx.settings.security.risk.history_days == 90

    def seed() -> Iterator[Any]:
        for i in range(7):
            yield from sa.insert_login_event(uid, now - 91 * 86400 - i, "10.5.0.1", NETS[5],
                                             "CN", "", "imap", "password", "success", 0)

    await meta.write(seed())
    ctx = risk.LoginContext("10.6.0.1", NETS[6], "CN", "", now)
    for _ in range(3):
        await sec.recorder.login_event(sec.user, ctx, protocol="imap", method="password",
                                       outcome="success", score=0)
    assert len(await meta.read(sa.login_events(uid, 0))) == 10
    assert (await housekeeping_once(sec.ctx, now=now))["login_history"] == 7
    events = await meta.read(sa.login_events(uid, 0))
    assert [e.net for e in events] == [NETS[6]] * 3
    assert [k.net for k in await meta.read(sa.login_history(uid, 0))] == [NETS[6]]
