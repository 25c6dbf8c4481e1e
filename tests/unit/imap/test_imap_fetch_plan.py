"""FETCH's per-command rendering plan (commands/fetch.py ``_plan``) writes the same bytes as
the generic path (``_item`` + ``response.fetch``) for every attribute it special-cases."""

from __future__ import annotations

from datetime import UTC
from types import SimpleNamespace
from typing import Any

import pytest

from rongmail.core.flags import DELETED, SEEN
from rongmail.core.models import MailboxEntry
from rongmail.protocols.imap.commands import fetch as f
from rongmail.protocols.imap.proto import response as r
from rongmail.protocols.imap.proto.fetch import FetchAtt

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
    session: Any = SimpleNamespace(zone=UTC)
    atts = [FetchAtt(n) for n in names]
    plan = f._plan(session, atts, True)
    for msn, entry in enumerate(ENTRIES, 1):
        loaded = f._Loaded(_static(has_static), None)
        generic = r.fetch(msn, [(a.response_name(), f._item(session, a, entry.uid, entry, loaded,
                                                            True)) for a in atts], utf8=True)
        fast = b"* %d FETCH (%b)\r\n" % (msn, b" ".join([p(entry.uid, entry, loaded)
                                                         for p in plan]))
        assert fast == generic


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
