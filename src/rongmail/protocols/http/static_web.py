"""Serve the built webmail (``make web`` writes it to ``rongmail/static/web``).

Cache policy: the HTML shell, the service worker and the manifest are ``no-cache`` (a new
deploy is seen at once); hashed ``/assets/*`` are immutable for a year. The shell carries the
strict Content-Security-Policy documented in ``web/README.md`` (no inline script; remote images
only after the user consents, inside a sandboxed frame with its own CSP). Paths are resolved
inside the static directory only (no traversal). When the assets were not built, ``/`` explains
how to build them instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from rongmail.i18n import t
from rongmail.protocols.http.server import HttpDeps, static_dir

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob: https: http:; connect-src 'self'; frame-src 'self' blob:; "
       "child-src 'self' blob:; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
         ".png": "image/png", ".webmanifest": "application/manifest+json",
         ".html": "text/html", ".json": "application/json", ".woff2": "font/woff2",
         ".ico": "image/x-icon"}


def _file(root: Path, rel: str) -> Path | None:
    try:
        p = (root / rel).resolve()
    except (OSError, ValueError):
        return None
    if root.resolve() not in p.parents or not p.is_file():
        return None
    return p


def _respond(p: Path, *, cache: str, csp: bool = False) -> web.FileResponse:
    headers = {"Cache-Control": cache, "Content-Type": TYPES.get(p.suffix, "application/octet-stream"),
               "Referrer-Policy": "same-origin"}
    if csp:
        headers["Content-Security-Policy"] = CSP
    return web.FileResponse(p, headers=headers)


def register(app: web.Application, deps: HttpDeps) -> None:
    root = static_dir()

    async def index(request: web.Request) -> web.StreamResponse:
        p = _file(root, "index.html")
        if p is None:
            return web.Response(status=503, text=t("web.not_built", deps.settings.server.default_locale),
                                content_type="text/plain")
        return _respond(p, cache="no-cache", csp=True)

    async def admin_index(request: web.Request) -> web.StreamResponse:
        p = _file(root, "admin.html")
        if p is None:
            raise web.HTTPNotFound()
        return _respond(p, cache="no-cache", csp=True)

    async def asset(request: web.Request) -> web.StreamResponse:
        p = _file(root, "assets/" + request.match_info["path"])
        if p is None:
            raise web.HTTPNotFound()
        return _respond(p, cache="public, max-age=31536000, immutable")

    async def top(request: web.Request) -> web.StreamResponse:
        p = _file(root, request.match_info["name"])
        if p is None:
            raise web.HTTPNotFound()
        return _respond(p, cache="no-cache")

    async def icon(request: web.Request) -> web.StreamResponse:
        p = _file(root, "icons/" + request.match_info["path"])
        if p is None:
            raise web.HTTPNotFound()
        return _respond(p, cache="public, max-age=86400")

    r = app.router
    r.add_get("/", index)
    r.add_get("/admin", admin_index)
    r.add_get("/admin.html", admin_index)
    r.add_get("/assets/{path:.+}", asset)
    r.add_get("/icons/{path:.+}", icon)
    r.add_get("/{name:(sw\\.js|manifest\\.webmanifest|favicon\\.ico|robots\\.txt)}", top)
