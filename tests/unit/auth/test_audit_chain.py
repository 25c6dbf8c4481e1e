"""The audit log is append-only and hash-chained: verification finds edited, deleted,
re-ordered and truncated entries, and pruning keeps the chain verifiable."""

from __future__ import annotations

import secrets
import time

import pytest

from rongmail.actions import auth as aa
from rongmail.errors import ValidationError
from rongmail.services.auth.audit import verify_chain
from rongmail.store.sql import auth as sa
from rongmail.store.sql.q import Op, Q

KEY = secrets.token_bytes(32)


def _sql(sql: str, params: tuple[object, ...] = ()) -> Op[None]:
    yield Q(sql, params)


async def _fill(ctx, n: int = 6) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        await aa.do_audit(ctx, KEY, category="login", action="login.success",
                          remote=f"192.0.2.{i}", detail={"protocol": "imap", "i": i})


async def test_intact_chain_verifies(stack) -> None:  # type: ignore[no-untyped-def]
    await _fill(stack.ctx)
    report = await verify_chain(stack.ctx.meta, KEY)
    assert report.ok, report.problems
    assert (report.checked, report.first_seq, report.last_seq) == (6, 1, 6)
    # a different key (someone recomputing the chain without ours) never verifies
    assert not (await verify_chain(stack.ctx.meta, secrets.token_bytes(32))).ok


async def test_empty_log_verifies(stack) -> None:  # type: ignore[no-untyped-def]
    assert (await verify_chain(stack.ctx.meta, KEY)).ok


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_edit_is_detected(stack) -> None:  # type: ignore[no-untyped-def]
    await _fill(stack.ctx)
    await stack.ctx.meta.write(_sql("UPDATE audit_log SET remote = '203.0.113.66' WHERE seq = 3"))
    report = await verify_chain(stack.ctx.meta, KEY)
    assert not report.ok
    assert (3, "audit.problem.altered") in report.problems


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_edit_with_recomputed_unkeyed_digest_is_detected(stack) -> None:  # type: ignore[no-untyped-def]
    await _fill(stack.ctx)
    # an attacker edits an entry and re-chains everything after it with a key of their own
    forged = secrets.token_bytes(32)
    rows = await stack.ctx.meta.read(sa.audit_page(0))
    from rongmail.core.auditchain import entry_digest

    prev = rows[1].digest
    for e in rows[2:]:
        fields = e.fields() | ({"outcome": "failure"} if e.seq == 3 else {})
        digest = entry_digest(forged, prev, fields)
        await stack.ctx.meta.write(_sql(
            "UPDATE audit_log SET outcome = ?, prev = ?, digest = ? WHERE seq = ?",
            (fields["outcome"], prev, digest, e.seq)))
        prev = digest
    await stack.ctx.meta.write(_sql("UPDATE audit_head SET digest = ? WHERE id = 1", (prev,)))
    report = await verify_chain(stack.ctx.meta, KEY)
    assert not report.ok
    assert {s for s, p in report.problems if p == "audit.problem.altered"} == {3, 4, 5, 6}


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_deletion_in_the_middle_is_detected(stack) -> None:  # type: ignore[no-untyped-def]
    await _fill(stack.ctx)
    await stack.ctx.meta.write(_sql("DELETE FROM audit_log WHERE seq = 4"))
    report = await verify_chain(stack.ctx.meta, KEY)
    assert (4, "audit.problem.missing") in report.problems
    assert (5, "audit.problem.broken_link") in report.problems


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_deletion_of_the_first_entries_is_detected(stack) -> None:  # type: ignore[no-untyped-def]
    await _fill(stack.ctx)
    await stack.ctx.meta.write(_sql("DELETE FROM audit_log WHERE seq <= 2"))
    report = await verify_chain(stack.ctx.meta, KEY)
    assert (1, "audit.problem.missing") in report.problems


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_truncation_is_detected(stack) -> None:  # type: ignore[no-untyped-def]
    await _fill(stack.ctx)
    anchor = (await stack.ctx.meta.read(sa.audit_head()))
    await stack.ctx.meta.write(_sql("DELETE FROM audit_log WHERE seq >= 5"))
    report = await verify_chain(stack.ctx.meta, KEY)
    assert (6, "audit.problem.head") in report.problems
    # the attacker also rewinds the head row: only an external anchor can tell
    rows = await stack.ctx.meta.read(sa.audit_page(0))
    await stack.ctx.meta.write(_sql("UPDATE audit_head SET seq = ?, digest = ? WHERE id = 1",
                                    (rows[-1].seq, rows[-1].digest)))
    assert (await verify_chain(stack.ctx.meta, KEY)).ok
    report = await verify_chain(stack.ctx.meta, KEY, expect=(anchor.seq, anchor.digest))
    assert (6, "audit.problem.anchor") in report.problems


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_reordering_is_detected(stack) -> None:  # type: ignore[no-untyped-def]
    await _fill(stack.ctx)
    await stack.ctx.meta.write(_sql("UPDATE audit_log SET seq = 100 WHERE seq = 2"))
    await stack.ctx.meta.write(_sql("UPDATE audit_log SET seq = 2 WHERE seq = 3"))
    await stack.ctx.meta.write(_sql("UPDATE audit_log SET seq = 3 WHERE seq = 100"))
    assert not (await verify_chain(stack.ctx.meta, KEY)).ok


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_prune_keeps_the_chain_verifiable(stack) -> None:  # type: ignore[no-untyped-def]
    old = int(time.time()) - 400 * 86400
    for i in range(3):
        await stack.ctx.meta.write(sa.append_audit(KEY, category="login", action="old",
                                                   detail={"i": i}, at=old))
    await _fill(stack.ctx, 2)
    with pytest.raises(ValidationError):
        await aa.do_prune_audit(stack.ctx, KEY, retention_days=30)  # below the floor
    assert await aa.do_prune_audit(stack.ctx, KEY, retention_days=180) == 3
    report = await verify_chain(stack.ctx.meta, KEY)
    assert report.ok, report.problems
    assert (report.first_seq, report.last_seq) == (4, 6)
    # moving the base further without a chained prune record is detected
    await stack.ctx.meta.write(_sql("DELETE FROM audit_log WHERE seq = 4"))
    await stack.ctx.meta.write(_sql("UPDATE audit_head SET base_seq = 5, base_prev = ?"
                                    " WHERE id = 1", ((await stack.ctx.meta.read(
                                        sa.audit_page(4)))[0].prev,)))
    report = await verify_chain(stack.ctx.meta, KEY)
    assert (5, "audit.problem.base") in report.problems


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_audited_write_and_its_entry_commit_together(stack) -> None:  # type: ignore[no-untyped-def]
    from rongmail.actions import accounts as acc

    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    a = await acc.do_create_account(stack.ctx, "li@demo.test", "Long-enough-pass-1")
    with pytest.raises(ValidationError):
        await aa.do_create_app_password(stack.ctx, KEY, a, "phone", ["web"])
    assert (await stack.ctx.meta.read(sa.audit_head())).seq == 0
    secret, row = await aa.do_create_app_password(stack.ctx, KEY, a, "phone", ["imap", "smtp"])
    assert row.protocols == ("imap", "smtp")
    entries = await stack.ctx.meta.read(sa.search_audit(account_id=a.id))
    assert [e.action for e in entries] == ["app_password.created"]
    assert secret not in entries[0].detail
