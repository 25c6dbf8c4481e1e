"""FETCH's rendering plan (commands/fetch.py ``_Plan``) writes the same bytes as the generic
path (``_item`` + ``response.fetch``) for every attribute it special-cases, and answers the
attributes RFC 9051 / RFC 7162 add to a request."""

from __future__ import annotations

from datetime import UTC
from types import SimpleNamespace
from typing import Any

import pytest

from rongmail.core.flags import DELETED, SEEN
from rongmail.core.models import MailboxEntry
from rongmail.protocols.imap.commands import fetch as f
from rongmail.protocols.imap.proto import response as r
from rongmail.protocols.imap.proto.fetch import FetchAtt, Section

ENTRIES = [
    MailboxEntry(uid=7, message_id=41, flags=SEEN | DELETED, keywords=frozenset({"$Junk"}),
                 modseq=1234, size=5120, received_at=1_700_000_000),
    MailboxEntry(uid=90_000, message_id=10**9, flags=0, keywords=frozenset(), modseq=1,
                 size=0, received_at=0),
]
ENVELOPE = r.Rendered(r.render(["Mon, 7 Feb 1994 21:52:25 -0800", "会议", None], utf8=True))


def _static(envelope: bool) -> Any:
    if not envelope:
        return None
    return SimpleNamespace(envelope=lambda *, utf8: ENVELOPE)


@pytest.mark.parametrize("names", [
    ("UID", "FLAGS"), ("FLAGS", "ENVELOPE"), ("UID", "RFC822.SIZE", "MODSEQ", "EMAILID"),
    ("ENVELOPE", "INTERNALDATE", "UID", "FLAGS", "MODSEQ"),
])
@pytest.mark.parametrize("has_static", [True, False])
def test_plan_matches_generic_rendering(names: tuple[str, ...], has_static: bool) -> None:
    atts = tuple(FetchAtt(n) for n in names)
    plan = f._Plan(atts, uid=False, condstore=False, may_set_seen=False, utf8=True, zone=UTC)
    assert plan.atts == atts
    for msn, entry in enumerate(ENTRIES, 1):
        loaded = f._Loaded(_static(has_static), None)
        generic = r.fetch(msn, [(a.response_name(), f._item(a, entry.uid, entry, loaded, True,
                                                            UTC)) for a in atts], utf8=True)
        fast = b"* %d FETCH (%b)\r\n" % (msn, b" ".join([p(entry.uid, entry, loaded)
                                                         for p in plan.renderers]))
        assert fast == generic


def _names(plan: Any) -> list[str]:
    return [a.response_name() for a in plan.atts]


def test_plan_adds_uid_modseq_and_flags() -> None:
    """UID FETCH answers UID first (RFC 9051 §6.4.9), CONDSTORE adds MODSEQ (RFC 7162
    §3.1.4.1), a body fetch that sets \\Seen adds FLAGS (RFC 9051 §6.4.5) — each once."""
    body = (FetchAtt("BODY", section=Section()),)
    plan = f._plan_for(body, True, True, True, False, UTC)
    assert _names(plan) == ["UID", "BODY[]", "MODSEQ", "FLAGS"]
    assert plan.sets_seen and plan.need_raw and plan.need_row and plan.reuse_key is None
    # already asked for: not repeated; read-only (may_set_seen False): no \Seen, no FLAGS
    asked = (FetchAtt("FLAGS"), FetchAtt("UID"), FetchAtt("MODSEQ"), *body)
    assert _names(f._plan_for(asked, True, True, True, False, UTC)) == [
        "FLAGS", "UID", "MODSEQ", "BODY[]"]
    ro = f._plan_for(body, False, False, False, False, UTC)
    assert _names(ro) == ["BODY[]"] and not ro.sets_seen
    peek = f._plan_for((FetchAtt("BODY", section=Section(), peek=True),), False, False, True,
                       False, UTC)
    assert _names(peek) == ["BODY[]"] and not peek.sets_seen
    # metadata only: no row, no bytes; rendered item lists reusable only for entry-only items
    meta = f._plan_for((FetchAtt("FLAGS"),), False, False, True, False, UTC)
    assert not meta.need_row and not meta.need_raw and meta.reuse_key is None
    env = f._plan_for((FetchAtt("FLAGS"), FetchAtt("ENVELOPE")), False, False, True, True, UTC)
    assert env.need_row and env.reuse_key == (True, ("FLAGS", "ENVELOPE"))
    # equal requests share one plan; one naming many header fields is built, not kept
    assert f._plan(body, True, True, True, False, UTC) is plan
    many = (FetchAtt("BODY", section=Section(text="HEADER.FIELDS", fields=("X-" + "A" * 2000,)),
                     peek=True),)
    big = f._plan(many, False, False, True, False, UTC)
    assert big is not f._plan(many, False, False, True, False, UTC)
    assert _names(big) == [many[0].response_name()] and big.need_raw and not big.sets_seen


@pytest.mark.parametrize("condstore", [False, True])
@pytest.mark.parametrize("entry", ENTRIES)
def test_flag_update_line_matches_generic_rendering(entry: MailboxEntry, condstore: bool) -> None:
    """``flags_response`` (sent to every other session after a STORE) builds its line
    directly; it must be what ``response.fetch`` renders for UID, FLAGS (and MODSEQ)."""
    view = SimpleNamespace(entries={entry.uid: entry})
    session: Any = SimpleNamespace(view=view, condstore=condstore, utf8=False)
    items: list[tuple[str, object]] = [("UID", entry.uid), ("FLAGS", f._flags(entry))]
    if condstore:
        items.append(("MODSEQ", [entry.modseq]))
    assert f.flags_response(session, 3, entry.uid) == r.fetch(3, items)
