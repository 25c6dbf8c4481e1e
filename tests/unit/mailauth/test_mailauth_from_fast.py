"""The RFC5322.From fast path of DMARC (a regex for the common simple forms) gives the same
domain as the full ``email`` header parser, and leaves every other form to that parser."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rongmail.services.mailauth.dmarc import _from_domains_full, _simple_from_domain

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
atom = st.text(alphabet=ATEXT, min_size=1, max_size=6)
local = st.lists(atom, min_size=1, max_size=3).map(".".join)
label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,5}[A-Za-z0-9])?", fullmatch=True)
domain = st.lists(label, min_size=1, max_size=3).map(".".join)
quoted = st.text(alphabet=ATEXT + ' ,.<>@()\\"', max_size=8).map(
    lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
)
word = st.one_of(atom, quoted, st.just("=?UTF-8?B?5byg5LiJ?="), st.just("."))
phrase = st.lists(word, max_size=4).map(" ".join)
ws = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def from_values(draw: st.DrawFn) -> str:
    addr = f"{draw(local)}@{draw(domain)}"
    if draw(st.booleans()):
        return draw(ws) + addr + draw(ws)
    return draw(ws) + draw(phrase) + draw(ws) + f"<{addr}>" + draw(ws)


@given(from_values())
@settings(max_examples=3000, deadline=None)
def test_fast_path_agrees_with_the_full_parser(value: str) -> None:
    fast = _simple_from_domain(value)
    full = _from_domains_full(value)
    if fast is not None:
        assert {fast} == full, (value, fast, full)


@given(st.text(alphabet=ATEXT + ' \t,.<>@()\\":;[]', max_size=40))
@settings(max_examples=3000, deadline=None)
def test_fast_path_never_disagrees_on_arbitrary_text(value: str) -> None:
    fast = _simple_from_domain(value)
    if fast is not None:
        assert _from_domains_full(value) == {fast}, value


def test_fast_path_takes_the_common_forms_and_declines_the_rest() -> None:
    assert _simple_from_domain("a@Example.ORG") == "example.org"
    assert _simple_from_domain(" Sender 3 <sender@client.test>") == "client.test"
    assert _simple_from_domain('"Doe, John" <j@x.test>') == "x.test"
    assert _simple_from_domain("=?UTF-8?B?5byg5LiJ?= <a@Example.ORG>") == "example.org"
    # groups, several addresses, comments, quoted local parts, non-ASCII: the full parser
    for hard in (
        "a@x.test, b@y.test",
        "g: a@x.test;",
        "a@x.test (c)",
        '"a b"@x.test',
        "张三 <a@x.test>",
        "<a@x.test",
        "a@[127.0.0.1]",
        "Name <a@x.test> b@y",
    ):
        assert _simple_from_domain(hard) is None, hard


def test_no_catastrophic_backtracking() -> None:
    assert _simple_from_domain("a" * 20000 + " x") is None
    assert _simple_from_domain('"' + "\\a" * 5000) is None
