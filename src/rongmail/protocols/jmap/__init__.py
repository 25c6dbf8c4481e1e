"""JMAP (RFC 8620 core, RFC 8621 mail, RFC 8887 WebSocket): the one API for the webmail,
phones and integrations.

Layout (DESIGN.md house rule 2):

* ``proto/`` — sans-IO: request parsing and limits (``request.py``), result references
  (``refs.py``), error types (``errors.py``), id encoding (``ids.py``);
* ``dispatch.py`` — the explicit method table and request execution;
* ``methods/<type>/<method>.py`` — one module per method (``methods/email/query.py`` is
  ``Email/query``), reading through ``store.reader.Reader`` and writing through ``actions``;
* ``standard.py`` — shared /get, /changes, /query, /queryChanges and /set mechanics;
* ``mail/`` — Email/Mailbox/Identity/EmailSubmission rendering and helpers;
* ``server.py`` — the aiohttp shell (session, API, upload, download, EventSource, WebSocket);
  authentication is ``protocols/http/login.py``'s one layer.

:func:`register` is the HTTP registrar ``app.py`` lists; it also runs the send-later task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from rongmail.protocols.http.server import HttpDeps
from rongmail.protocols.jmap.call import JmapDeps
from rongmail.protocols.jmap.mail.submissions import sender_loop
from rongmail.protocols.jmap.proto.request import Limits
from rongmail.protocols.jmap.server import add_routes


def register(app: web.Application, deps: HttpDeps) -> None:
    settings = deps.settings
    limits = Limits(max_size_upload=settings.limits.max_message_bytes)
    jdeps = JmapDeps(ctx=deps.ctx, reader=deps.reader, limits=limits,
                     hostname=settings.server.hostname)
    add_routes(app, jdeps)

    async def send_later(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(sender_loop(jdeps))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(send_later)
