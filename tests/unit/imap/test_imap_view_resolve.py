"""``SelectedView.resolve`` against the plain definition of a sequence set (RFC 9051 §9,
§6.4.9): the set of existing UIDs or sequence numbers it names, ascending, each once.

``resolve`` concatenates slices when the ranges come sorted and apart (``1:*``, ``1:5,9``),
and only otherwise builds a set and sorts it; this checks both paths on any set, including
reversed, overlapping, out-of-range and ``*`` ranges."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rongmail.core.models import Mailbox, MailboxEntry
from rongmail.protocols.imap.proto.sequence import STAR, SequenceSet
from rongmail.protocols.imap.view import Listing, SelectedView

_numbers = st.one_of(st.just(STAR), st.integers(1, 60))


def _view(uids: list[int]) -> SelectedView:
    entries = [MailboxEntry(u, 100 + u, 0, frozenset(), 1, 10, 0) for u in uids]
    return SelectedView(Mailbox(1, 1, 0, "INBOX", "inbox", 7, 1, 1, True, 0),
                        Listing.of(0, entries), readonly=False)


def _plain(v: SelectedView, seq: SequenceSet, *, uid: bool) -> list[int]:
    largest = (v.uids[-1] if v.uids else 0) if uid else len(v.uids)
    named = {n for lo, hi in seq.resolve(largest) for n in range(lo, hi + 1)}
    if uid:
        return [u for u in v.uids if u in named]
    return [u for i, u in enumerate(v.uids) if i + 1 in named]


@settings(max_examples=400, deadline=None)
@given(uids=st.sets(st.integers(1, 50)),
       ranges=st.lists(st.tuples(_numbers, _numbers), min_size=1, max_size=5),
       uid=st.booleans())
def test_resolve_is_the_named_members_ascending_once(
    uids: set[int], ranges: list[tuple[int, int]], uid: bool
) -> None:
    v = _view(sorted(uids))
    seq = SequenceSet(tuple(ranges))
    got = v.resolve(seq, uid=uid)
    assert got == _plain(v, seq, uid=uid)
    assert got is not v.uids  # the caller's own list: the view's may change under it


def test_whole_mailbox_and_disjoint_ranges() -> None:
    v = _view(list(range(1, 11)))
    assert v.resolve(SequenceSet.parse("1:*"), uid=False) == list(range(1, 11))
    assert v.resolve(SequenceSet.parse("1:2,5,9:*"), uid=True) == [1, 2, 5, 9, 10]
    assert v.resolve(SequenceSet.parse("5:1,3:4"), uid=True) == [1, 2, 3, 4, 5]  # overlap
    assert v.resolve(SequenceSet.parse("9,2"), uid=False) == [2, 9]  # out of order
    assert v.resolve(SequenceSet.parse("20:30"), uid=True) == []
