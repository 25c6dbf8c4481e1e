"""The HTTP listener: an aiohttp application that other packages add routes to.

``HttpDeps`` carries what handlers need (explicit fields, built by ``app.py``). Feature packages
expose ``register(app: web.Application, deps: HttpDeps)``; ``build_http_app`` calls them in a
fixed order. Security headers are set on every response; request bodies are bounded.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from rongmail.actions.context import ActionContext
from rongmail.config.settings import Settings
from rongmail.store.reader import Reader

MAX_BODY = 64 * 1024 * 1024


@dataclass
class HttpDeps:
    settings: Settings
    ctx: ActionContext
    reader: Reader
    #: authentication port (the identity layer); set by app.py
    auth: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


DEPS_KEY = web.AppKey("deps", HttpDeps)


@web.middleware
async def security_headers(request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
    resp: web.StreamResponse = await handler(request)
    h = resp.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return resp


async def healthz(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    # a trivial read proves the store answers
    await deps.reader.domains()
    return web.json_response({"status": "ok"})


def static_dir() -> Path:
    return Path(str(resources.files("rongmail"))) / "static" / "web"


def build_http_app(deps: HttpDeps, registrars: list[Callable[[web.Application, HttpDeps], None]]
                   ) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[security_headers])
    app[DEPS_KEY] = deps
    app.router.add_get("/healthz", healthz)
    for reg in registrars:
        reg(app, deps)
    return app


async def start_http(app: web.Application, host: str, port: int,
                     tls: ssl.SSLContext | None = None) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls, reuse_address=True)
    await site.start()
    return runner
