"""index_tokens (the fast, C-level construction) equals its one-run-at-a-time definition."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rongmail.core.search_tokens import index_tokens, index_tokens_reference

# letters of several scripts, digits, combining marks, full-width forms, separators, NUL,
# underscore (a separator for the index), astral characters
ALPHABET = "ab_ 中文字\u0301é1.\n\t\u00a0ｆｕｌｌＡ–-x\u200b\x00😀𠀀ß"


@given(st.text(alphabet=ALPHABET, max_size=60))
@settings(max_examples=3000, deadline=None)
def test_fast_index_tokens_equal_reference(text: str) -> None:
    assert index_tokens(text) == index_tokens_reference(text)


@given(st.text(max_size=80))
@settings(max_examples=2000, deadline=None)
def test_fast_index_tokens_equal_reference_any_text(text: str) -> None:
    assert index_tokens(text) == index_tokens_reference(text)


def test_index_tokens_examples() -> None:
    assert index_tokens("") == ""
    assert index_tokens("a") == "a"
    assert index_tokens("Hello, 中文!") == "he el ll lo o 中文 文"
    assert index_tokens("a b") == "a b"
    assert index_tokens("..ab__c..") == "ab b c"
