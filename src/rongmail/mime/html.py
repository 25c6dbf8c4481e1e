"""HTML bodies: conversion to plain text, and sanitising for display in the webmail.

:func:`html_to_text` is a small ``html.parser`` state machine: it drops ``script``, ``style``,
``head`` and similar content, emits line breaks for block elements and ``<br>``, and collapses
inline white space the way a browser does (HTML §13.2 is not followed to the letter; this is
for previews, search and the text part of replies, not for rendering). Input beyond
:data:`MAX_HTML_CHARS` is ignored so hostile bodies cannot cost unbounded time.

:func:`sanitize_html` runs the ``nh3`` (ammonia) sanitiser with an allow-list, which is the
security boundary: whatever is not explicitly allowed is dropped. On top of it:

* scripts, styles' ``expression()``/``url()`` and ``javascript:``/``vbscript:``/``data:``
  URLs are removed (``data:`` images are *not* allowed: they bypass the remote-content policy
  only by being inline, but they are also a known phishing vector for fake login screens and a
  parsing attack surface; inline images arrive as ``cid:`` parts, which are allowed);
* forms, ``meta`` refresh, ``base``, frames and embedded objects are removed (not allow-listed);
* when remote images are not allowed, ``<img src="http...">`` becomes ``data-rm-src`` so the
  client can load it on demand, and ``background`` attributes are dropped (``srcset`` is never
  kept: it is not URL-checked by the sanitiser); CSS ``url()`` is always removed;
* every link gets ``rel="noopener noreferrer"`` and ``target="_blank"``.

Invariant: output of :func:`sanitize_html` is safe to insert into a sandboxed iframe or a
Shadow DOM without further escaping; neither function raises on any ``str`` input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import nh3

__all__ = ["MAX_HTML_CHARS", "html_to_text", "sanitize_html"]

#: Upper bound on the HTML characters examined by :func:`html_to_text`.
MAX_HTML_CHARS = 2_000_000

_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "object", "svg"})
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
        "tbody", "thead", "tfoot", "tr", "ul", "body", "html",
    }
)  # fmt: skip
_CELL = frozenset({"td", "th"})
_WS = re.compile(r"[ \t\r\n\f\u00a0]+")
_BLANKS = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0

    def _newline(self) -> None:
        if self.out and not self.out[-1].endswith("\n"):
            self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCK:
            self._newline()
            if tag == "pre":
                self.pre += 1
            elif tag == "li":
                self.out.append("* ")
        elif tag in _CELL:
            self.out.append("\t")
        elif tag == "img" and not self.skip:
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            if self.skip:
                self.skip -= 1
        elif tag in _BLOCK:
            if tag == "pre" and self.pre:
                self.pre -= 1
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            self.out.append(data)
            return
        text = _WS.sub(" ", data)
        if not self.out or self.out[-1].endswith(("\n", "\t")):
            text = text.lstrip(" ")
        if text:
            self.out.append(text)


def html_to_text(html: str) -> str:
    """Render ``html`` as readable plain text (line breaks kept for blocks). Never raises."""
    parser = _TextExtractor()
    try:
        parser.feed(html[:MAX_HTML_CHARS])
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser may assert on pathological markup
        pass
    text = "".join(parser.out)
    lines = [line.rstrip(" ") for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


_TAGS = {
    "a", "abbr", "address", "b", "bdi", "bdo", "blockquote", "br", "caption", "center", "cite",
    "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "font",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
    "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
    "var", "wbr",
}  # fmt: skip
_GENERIC_ATTRS = {"align", "valign", "dir", "lang", "title", "style", "class", "width", "height",
                  "bgcolor", "color", "border"}  # fmt: skip
_ATTRS: dict[str, set[str]] = {
    "*": _GENERIC_ATTRS,
    "a": {"href", "name"},
    "img": {"src", "alt"},
    "font": {"face", "size"},
    "table": {"cellpadding", "cellspacing", "background", "summary"},
    "td": {"colspan", "rowspan", "nowrap", "background"},
    "th": {"colspan", "rowspan", "nowrap", "background"},
    "tr": {"background"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
_CLEAN_CONTENT = {"script", "style", "title", "template", "noscript", "iframe", "object",
                  "embed", "applet", "frameset", "frame", "textarea", "select", "xmp",
                  "noembed", "noframes", "svg", "math"}  # fmt: skip
_BAD_STYLE = re.compile(r"expression|javascript|vbscript|behavior|-moz-binding|@import|url\s*\(",
                        re.IGNORECASE)  # fmt: skip
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_HTTP = re.compile(r"^\s*https?://", re.IGNORECASE)
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_IMG_SRC = re.compile(r'(\s)src="')


def _filter(*, allow_remote: bool) -> Callable[[str, str, str], str | None]:
    def attribute_filter(element: str, attribute: str, value: str) -> str | None:
        if attribute == "style":
            return None if _BAD_STYLE.search(value) else value
        if attribute == "background":
            # Not a URL attribute for ammonia, so vet it here: remote http(s) only, on opt-in.
            return value if allow_remote and _HTTP.match(value) else None
        return value

    return attribute_filter


_CLEANERS: dict[bool, nh3.Cleaner] = {}


def _cleaner(allow_remote: bool) -> nh3.Cleaner:
    c = _CLEANERS.get(allow_remote)
    if c is None:
        c = nh3.Cleaner(
            tags=_TAGS,
            clean_content_tags=_CLEAN_CONTENT,
            attributes=_ATTRS,
            attribute_filter=_filter(allow_remote=allow_remote),
            url_schemes=_URL_SCHEMES,
            link_rel="noopener noreferrer",
            set_tag_attribute_values={"a": {"target": "_blank"}},
            strip_comments=True,
            # Relative URLs would resolve against the webmail origin (CSRF-style requests).
            url_relative="deny",
        )
        _CLEANERS[allow_remote] = c
    return c


def _hide_remote_images(html: str) -> str:
    """Rename remote ``<img src>`` to ``data-rm-src``.

    Runs on nh3 *output*, whose serialiser always writes attributes as ``name="value"`` with
    ``"`` escaped, so a regular expression over it is exact.
    """

    def fix(m: re.Match[str]) -> str:
        tag = m.group(0)
        sm = re.search(r'\ssrc="([^"]*)"', tag)
        if sm is None or not _REMOTE.match(sm.group(1).replace("&amp;", "&")):
            return tag
        return _IMG_SRC.sub(r'\1data-rm-src="', tag, count=1)

    return _IMG_TAG.sub(fix, html)


def sanitize_html(html: str, *, allow_remote_images: bool) -> str:
    """Sanitise untrusted mail HTML for display (see the module docstring). Never raises."""
    try:
        out = _cleaner(allow_remote_images).clean(html)
    except Exception:  # noqa: BLE001 - fail closed: show nothing rather than raw HTML
        return ""
    if not allow_remote_images and "<img" in out:
        out = _hide_remote_images(out)
    return out
