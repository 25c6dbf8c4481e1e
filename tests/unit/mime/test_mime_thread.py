"""Subject normalisation (RFC 5256 §2.1 plus Chinese prefixes) and threading keys."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from rongmail.core.thread import (
    MAX_REFERENCES,
    find_thread,
    normalize_subject,
    subject_key,
    thread_keys,
)


@pytest.mark.parametrize(
    ("subject", "base"),
    [
        ("Re: hello", "hello"),
        ("RE: Re: re: hello", "hello"),
        ("Fwd: Fw: FW: hello", "hello"),
        ("Re[2]: hello", "hello"),
        ("Re(3): hello", "hello"),
        ("回复: 会议通知", "会议通知"),
        ("回复：会议通知", "会议通知"),  # full-width colon
        ("RE：答复：转发：会议通知", "会议通知"),
        ("回覆: 轉寄: 會議", "會議"),
        ("[list] Re: [list] hello", "hello"),
        ("【广告】 hello", "hello"),
        ("[fwd: Re: test]", "test"),
        ("hello (fwd)", "hello"),
        ("AW: WG: SV: VS: TR: hello", "hello"),
        ("  Re :   spaced   out  ", "spaced out"),
        ("[only-a-tag]", "[only-a-tag]"),
        ("Re:", ""),
        ("", ""),
        ("Regarding: not a prefix", "Regarding: not a prefix"),
        ("Ｒｅ：全角", "全角"),
    ],
)
def test_normalize_subject(subject: str, base: str) -> None:
    assert normalize_subject(subject) == base


def test_subject_key_case_folds() -> None:
    assert subject_key("Re: HELLO") == subject_key("hello")


def test_normalize_is_bounded_on_pathological_input() -> None:
    s = "Re: " * 10_000 + "[x]" * 10_000 + "end"
    assert normalize_subject(s).endswith("end")


@dataclass
class Msg:
    subject: str = ""
    message_id: str | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


def test_thread_keys_order_and_dedup() -> None:
    k = thread_keys(
        Msg("Re: x", "me@h", in_reply_to=["p@h"], references=["r@h", "q@h", "p@h", "me@h"])
    )
    assert k.parents == ("p@h", "q@h", "r@h")
    assert k.subject_key == "x" and k.subject_fallback
    assert k.lookup_ids() == k.parents


def test_references_bounded() -> None:
    refs = [f"{i}@h" for i in range(500)]
    k = thread_keys(Msg("s", "me@h", references=refs))
    assert len(k.parents) == MAX_REFERENCES
    assert k.parents[0] == "499@h"


def test_find_thread_prefers_nearest_known_ancestor() -> None:
    k = thread_keys(Msg("Re: x", "me@h", in_reply_to=["p@h"], references=["r@h", "p@h"]))
    assert find_thread(k, {"r@h": 1, "p@h": 2}) == 2
    assert find_thread(k, {"r@h": 1}) == 1
    assert find_thread(k, {}, by_subject=7) == 7


def test_subject_fallback_only_for_replies() -> None:
    fresh = thread_keys(Msg("Invoice", "a@h"))
    assert not fresh.subject_fallback
    assert find_thread(fresh, {}, by_subject=3) is None
    reply = thread_keys(Msg("回复: Invoice", "b@h"))
    assert reply.subject_fallback and reply.subject_key == "invoice"
    assert find_thread(reply, {}, by_subject=3) == 3
