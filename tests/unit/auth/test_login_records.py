"""A login's records: the login event and its ``login`` audit entry are written in ONE
transaction (``AuthRecorder.login_event(audit=...)``), on success and on a wrong password; both
are there afterwards and the audit chain still verifies. A success commits relaxed (no fsync
of its own: it is on every client's connect path, and a durable write there stalled the
writer thread's queue of flag changes behind an fsync), a failure or refusal durably (the
evidence of an attack must survive a power cut)."""

from __future__ import annotations

from typing import Any

import pytest

from rongmail.errors import AuthError
from rongmail.services.auth.audit import verify_chain
from rongmail.store.sql import auth as sa


def _spy_writes(meta: Any) -> list[bool]:
    calls: list[bool] = []
    real = meta.write

    async def spy(op: Any, *, durable: bool = True) -> Any:
        calls.append(durable)
        return await real(op, durable=durable)

    meta.write = spy
    return calls


async def test_login_event_and_audit_share_one_write(sec) -> None:  # type: ignore[no-untyped-def]
    meta = sec.ctx.meta
    calls = _spy_writes(meta)
    try:
        r = await sec.auth.authenticate("li@demo.test", "Li-pass-2026-x", protocol="imap",
                                        remote_ip="127.0.0.1")
        assert r.account.id == sec.user.id
        assert calls == [False], "a success: one relaxed write"
        with pytest.raises(AuthError):
            await sec.auth.authenticate("li@demo.test", "wrong-pass", protocol="imap",
                                        remote_ip="127.0.0.1")
    finally:
        del meta.write
    # the failure: the event with its audit entry (this fixture's lockout counter lives in
    # memory, it writes nothing)
    assert calls == [False, True], calls
    events = await meta.read(sa.login_events(sec.user.id, 0))
    assert sorted(e.outcome for e in events) == ["failure", "success"]
    entries = await meta.read(sa.audit_page(0))
    login = [(e.action, e.outcome, e.remote) for e in entries if e.category == "login"]
    assert ("login.success", "success", "127.0.0.1") in login
    assert ("login.failed", "failure", "127.0.0.1") in login
    assert (await verify_chain(meta, sec.key)).ok
