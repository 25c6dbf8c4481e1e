"""Risk scoring over a long login history: the SQL-grouped history
(``store.sql.auth.login_event_groups``, what ``Authenticator`` reads) decides exactly as the
latest 500 raw rows scored in Python did, for novel and known networks, countries, regions and
devices, failure bursts, country hopping and an admin's risk reset."""

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
    """1,200 events over 20 days; the oldest 700 use networks 8-11 only (outside the scored
    window of 500), the latest ones include failures and refusals in the last hour."""
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
    """The former computation: the raw rows, failures counted in Python."""
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
    rows = await meta.read(sa.login_events(uid, since))
    groups = await meta.read(sa.login_event_groups(uid, since, now - BURST_WINDOW))
    assert len(rows) == 500 and len(groups) < len(rows)
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


async def test_groups_count_failures_after_the_threshold(sec) -> None:  # type: ignore[no-untyped-def]
    meta, uid, now = sec.ctx.meta, sec.user.id, 1_790_000_000

    def seed() -> Iterator[Any]:
        for at in (now - 100, now - 200, now - 2000):
            yield from sa.insert_login_event(uid, at, "10.0.0.1", NETS[0], "CN", "", "imap",
                                             "password", "failure", 0)

    await meta.write(seed())
    groups = await meta.read(sa.login_event_groups(uid, 0, now - 150))
    assert [(g.outcome, g.at, g.recent) for g in groups] == [("failure", now - 100, 1)]
