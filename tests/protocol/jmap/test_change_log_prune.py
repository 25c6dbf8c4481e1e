"""Change-log retention (``storage.change_log_days``, migration 0201) seen by clients, on both
backends: after a prune, a JMAP state older than what was pruned gets ``cannotCalculateChanges``
(also when the account has no log row left at all), a newer one still gets its changes; an
IMAP listing cached before the pruned changes is rebuilt from the store, not patched from an
incomplete log; the prune works in batches and keeps young rows. Also the other table that
grew with every conversation: a thread left without emails is destroyed."""

from __future__ import annotations

import time

from jmap_helpers import JmapEnv

from rongmail.actions.changes import do_prune_change_log
from rongmail.protocols.imap.view import ListingCache
from rongmail.store.sql import mail as ml
from rongmail.store.sql.q import Q


def _month_ago() -> int:
    return int(time.time()) - 30 * 86400


async def _log_rows(jmap: JmapEnv) -> int:
    def op():  # type: ignore[no-untyped-def]
        rows = yield Q("SELECT COUNT(*) FROM change_log")
        return int(rows[0][0])
    return await jmap.ctx.meta.read(op())


async def _age_log(jmap: JmapEnv, seconds: int) -> None:
    """Backdate every change-log row of the test by ``seconds`` (test setup: the log stamps
    rows with the wall clock)."""
    def op():  # type: ignore[no-untyped-def]
        yield Q("UPDATE change_log SET created_at = created_at - ?", (seconds,))
    await jmap.ctx.meta.write(op())


async def _email_changes(jmap: JmapEnv, since: str) -> list:  # type: ignore[type-arg]
    return await jmap.call(["Email/changes", {"accountId": jmap.aid, "sinceState": since}, "c"])


async def test_old_states_cannot_be_caught_up_after_a_prune(jmap: JmapEnv) -> None:
    state0 = (await jmap.one("Email/get", {"accountId": jmap.aid, "ids": []}))["state"]
    first = await jmap.deliver("one")
    state1 = (await jmap.one("Email/get", {"accountId": jmap.aid, "ids": []}))["state"]
    await _age_log(jmap, 40 * 86400)
    second = await jmap.deliver("two")
    [[name, changed, _]] = await _email_changes(jmap, state0)
    assert name == "Email/changes" and set(changed["created"]) == {f"E{first}", f"E{second}"}

    removed = await do_prune_change_log(jmap.ctx, before=_month_ago())
    assert removed > 0
    [[name, err, _]] = await _email_changes(jmap, state0)
    assert (name, err["type"]) == ("error", "cannotCalculateChanges")
    [[name, changed, _]] = await _email_changes(jmap, state1)  # after the pruned part
    assert name == "Email/changes" and changed["created"] == [f"E{second}"]


async def test_an_account_with_no_row_left_still_refuses_old_states(jmap: JmapEnv) -> None:
    state0 = (await jmap.one("Email/get", {"accountId": jmap.aid, "ids": []}))["state"]
    await jmap.deliver("one")
    await jmap.deliver("theirs", account=jmap.other)  # the log's newest row, which is kept
    await _age_log(jmap, 40 * 86400)
    await do_prune_change_log(jmap.ctx, before=_month_ago())
    assert await jmap.reader.changes_since(jmap.account.id, 0) == []
    [[name, err, _]] = await _email_changes(jmap, state0)
    assert (name, err["type"]) == ("error", "cannotCalculateChanges")
    floor = await jmap.reader.oldest_change(jmap.account.id)
    assert floor == await jmap.reader.modseq(jmap.account.id) + 1


async def test_prune_goes_in_batches_and_keeps_young_rows(jmap: JmapEnv, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for i in range(4):
        await jmap.deliver(f"old {i}")
    await _age_log(jmap, 40 * 86400)
    old_rows = await _log_rows(jmap)
    await jmap.deliver("young")
    young_rows = await _log_rows(jmap) - old_rows
    monkeypatch.setattr(ml, "PRUNE_BATCH", 3)
    calls = []
    real = ml.prune_changes

    def counting(before, limit=3):  # type: ignore[no-untyped-def]
        calls.append(limit)
        return real(before, limit)

    monkeypatch.setattr(ml, "prune_changes", counting)
    removed = await do_prune_change_log(jmap.ctx, before=_month_ago())
    assert removed == old_rows and len(calls) >= old_rows // 3 + 1
    assert await _log_rows(jmap) == young_rows
    left = await jmap.reader.changes_since(jmap.account.id, 0)
    assert left and {c.modseq for c in left} == {max(c.modseq for c in left)}  # the young one
    # a second pass finds nothing to do
    assert await do_prune_change_log(jmap.ctx, before=_month_ago()) == 0


async def test_an_imap_listing_older_than_the_prune_is_rebuilt(jmap: JmapEnv) -> None:
    reader = jmap.reader
    inbox = await reader.mailbox_by_role(jmap.account.id, "inbox")
    cache = ListingCache()
    before = await cache.listing(reader, inbox)
    await jmap.deliver("one")
    await jmap.deliver("two")
    await _age_log(jmap, 40 * 86400)
    await do_prune_change_log(jmap.ctx, before=_month_ago())
    await jmap.deliver("three")
    inbox = await reader.mailbox_by_role(jmap.account.id, "inbox")
    after = await cache.listing(reader, inbox)
    fresh = ListingCache()
    want = await fresh.listing(reader, inbox)
    assert before.uids == [] and after.uids == want.uids and len(after.uids) == 3


async def test_housekeeping_prunes_beyond_change_log_days(jmap: JmapEnv) -> None:
    """The hourly pass (``workers.housekeeping``) prunes with ``storage.change_log_days``."""
    from rongmail.workers.housekeeping import housekeeping_once

    await jmap.deliver("one")
    days = jmap.ctx.settings.storage.change_log_days
    await _age_log(jmap, (days - 1) * 86400)
    assert (await housekeeping_once(jmap.ctx))["change_log"] == 0  # a day short of the limit
    rows = await _log_rows(jmap)
    await _age_log(jmap, 2 * 86400)
    # every row goes but the newest: SQLite would restart ids below it, under the change
    # followers' cursors (``bus.follower`` reads the log by id after the last one it saw)
    assert (await housekeeping_once(jmap.ctx))["change_log"] == rows - 1
    assert await _log_rows(jmap) == 1
    await jmap.deliver("two")
    newest = await jmap.reader.changes_since(jmap.account.id, 0)
    assert newest and min(c.modseq for c in newest) > 0

    def max_id():  # type: ignore[no-untyped-def]
        rows = yield Q("SELECT MIN(id), MAX(id) FROM change_log")
        return rows[0]
    low, high = await jmap.ctx.meta.read(max_id())
    assert high > rows  # ids went on from where they were, not from 1


async def test_a_thread_left_without_emails_is_destroyed(jmap: JmapEnv) -> None:
    """Destroying a thread's last email destroys the thread (RFC 8621 §3): Thread/changes
    lists it as destroyed and its row is gone; a thread that keeps an email is updated."""
    lone = await jmap.deliver("Lunch", "z")  # not the newest thread (that row is kept)
    root = await jmap.deliver("Plan", "x", extra="Message-ID: <root@example.org>\r\n")
    reply = await jmap.deliver("Re: Plan", "y", extra="Message-ID: <r1@example.org>\r\n"
                               "In-Reply-To: <root@example.org>\r\n")
    m = {x.id: x.thread_id for x in await jmap.reader.messages(jmap.account.id,
                                                               [root, reply, lone])}
    assert m[root] == m[reply] != m[lone]
    state = (await jmap.one("Thread/get", {"ids": []}))["state"]
    await jmap.one("Email/set", {"destroy": [f"E{reply}", f"E{lone}"]})
    changes = await jmap.one("Thread/changes", {"sinceState": state})
    assert changes["destroyed"] == [f"T{m[lone]}"] and changes["updated"] == [f"T{m[root]}"]

    def count():  # type: ignore[no-untyped-def]
        rows = yield Q("SELECT COUNT(*) FROM thread WHERE account_id = ?", (jmap.account.id,))
        return int(rows[0][0])

    assert await jmap.ctx.meta.read(count()) == 1
    got = await jmap.one("Thread/get", {"ids": [f"T{m[lone]}", f"T{m[root]}"]})
    assert got["notFound"] == [f"T{m[lone]}"]
    assert got["list"][0]["emailIds"] == [f"E{root}"]


async def test_housekeeping_runs_every_retention_step(jmap: JmapEnv) -> None:
    """Every step of the hourly pass runs (a failing step would be logged and left out of the
    result); the steps' own behaviour is tested in ``tests/storage/test_retention_purges.py``."""
    import secrets

    from rongmail.workers.housekeeping import housekeeping_once

    done = await housekeeping_once(jmap.ctx, audit_key=secrets.token_bytes(32))
    assert set(done) == {"change_log", "login_history", "sessions", "submissions", "quarantine",
                         "spam_learned", "uploads", "admin_audit", "audit_log"}
    assert set(await housekeeping_once(jmap.ctx)) == set(done) - {"audit_log"}


async def test_a_destroyed_thread_id_is_not_given_to_the_next_thread(jmap: JmapEnv) -> None:
    """SQLite hands a new row the highest id + 1: deleting the newest thread's row would give
    its id, which clients saw destroyed, to the next conversation. That row is kept."""
    lone = await jmap.deliver("Only one")
    [m] = await jmap.reader.messages(jmap.account.id, [lone])
    await jmap.one("Email/set", {"destroy": [f"E{lone}"]})
    nxt = await jmap.deliver("Another topic")
    [n] = await jmap.reader.messages(jmap.account.id, [nxt])
    assert n.thread_id > m.thread_id


async def test_a_destroyed_email_id_is_not_given_to_the_next_email(jmap: JmapEnv) -> None:
    """SQLite hands a new row the highest id + 1: destroying the newest email of the store
    gave its JMAP id, which clients saw destroyed, to the next delivery (migration 0301)."""
    first = await jmap.deliver("kept")
    newest = await jmap.deliver("destroyed at once")
    await jmap.one("Email/set", {"destroy": [f"E{newest}"]})
    nxt = await jmap.deliver("the next one")
    assert first < newest < nxt
    got = await jmap.one("Email/get", {"ids": [f"E{newest}", f"E{nxt}"], "properties": ["id"]})
    assert got["notFound"] == [f"E{newest}"] and [e["id"] for e in got["list"]] == [f"E{nxt}"]
