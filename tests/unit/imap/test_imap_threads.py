"""RFC 5256 THREAD algorithms (pure)."""

from __future__ import annotations

from rongmail.protocols.imap.threads import ThreadInput, ordered_subject, references, render


def m(n: int, mid: str | None, refs: tuple[str, ...] = (), subject: str = "s", date: int = 0,
      *, reply: bool = False) -> ThreadInput:
    return ThreadInput(n, mid, refs, subject, date or n, reply)


def test_references_chain_and_siblings() -> None:
    msgs = [
        m(1, "a"), m(2, "b", ("a",), reply=True), m(3, "c", ("a",), reply=True),
        m(4, "d", ("a", "c"), reply=True), m(5, "x", subject="other"),
    ]
    assert render(references(msgs)) == b"(1 (2)(3 4))(5)"


def test_references_missing_parent_makes_dummy_and_promotes() -> None:
    # 2 and 3 reply to a message we do not have: a dummy root with two children.
    msgs = [m(2, "b", ("gone",), subject="t", reply=True), m(3, "c", ("gone",), subject="t",
                                                             reply=True)]
    assert render(references(msgs)) == b"((2)(3))"
    # One child only: the child is promoted to the root.
    assert render(references([m(2, "b", ("gone",))])) == b"(2)"


def test_references_no_cycles_and_duplicates() -> None:
    msgs = [m(1, "a", ("b",)), m(2, "b", ("a",)), m(3, "a")]  # a<->b loop, duplicate id
    out = render(references(msgs))
    for n in (b"1", b"2", b"3"):
        assert out.count(n) == 1


def test_references_groups_by_subject() -> None:
    # No References at all, but "Re: s" belongs under "s" (RFC 5256 §2.2 step 5).
    msgs = [m(1, "a", subject="s"), m(2, "b", subject="s", reply=True), m(3, "c", subject="t")]
    assert render(references(msgs)) == b"(1 2)(3)"


def test_ordered_subject_rfc5256_shape() -> None:
    msgs = [m(1, None, subject="a"), m(2, None, subject="b"), m(3, None, subject="a"),
            m(4, None, subject="a")]
    assert render(ordered_subject(msgs)) == b"(1 (3)(4))(2)"
    assert render(ordered_subject(msgs[:3])) == b"(1 3)(2)"
