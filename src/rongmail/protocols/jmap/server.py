"""The JMAP HTTP shell (RFC 8620 §2, §3.1, §6, §7.3; RFC 8887): aiohttp handlers that
authenticate, enforce the transport limits, and hand bytes to the sans-IO core.

Endpoints: ``GET /.well-known/jmap`` (session), ``POST /jmap/api``, ``POST
/jmap/upload/{accountId}``, ``GET /jmap/download/{accountId}/{blobId}/{name}?type=``,
``GET /jmap/eventsource`` (push, fed by ``ctx.bus.subscribe``) and ``GET /jmap/ws``
(WebSocket, subprotocol ``jmap``).

Limits: ``maxSizeRequest`` is checked on ``Content-Length`` and on the bytes read;
``maxConcurrentRequests`` and ``maxConcurrentUpload`` per account (excess: ``limit`` problem
details, HTTP 400 as RFC 8620 §3.6.1 shows). Every failure leaves as a JMAP error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import WSMsgType, web

from rongmail.actions import jmap as jact
from rongmail.errors import MailError, TooLarge
from rongmail.protocols.http.login import Principal, auth_failure, http_auth, locale_of
from rongmail.protocols.jmap.call import JmapDeps
from rongmail.protocols.jmap.dispatch import CAPABILITIES, execute
from rongmail.protocols.jmap.mail.blobs import read_blob
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import RequestError
from rongmail.protocols.jmap.proto.request import parse_request, request_from_json
from rongmail.protocols.jmap.push import full_state_change, state_change
from rongmail.protocols.jmap.session import session_resource, session_state

log = logging.getLogger("rongmail.jmap")

JMAP_KEY = web.AppKey("jmap", JmapDeps)
_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$")
_INFLIGHT = web.AppKey("jmap_inflight", dict)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (orjson: the response encoding is on every request's hot path)."""
    return orjson.dumps(obj)


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(obj), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def problem(err: RequestError) -> web.Response:
    body = err.to_json()
    return web.Response(body=dumps(body), status=err.status,
                        content_type="application/problem+json")


def origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def principal_of(request: web.Request) -> Principal | web.Response:
    try:
        return await http_auth(request.app).authenticate(request)
    except MailError as exc:
        return auth_failure(exc, locale_of(request), request)


@contextlib.contextmanager
def slot(request: web.Request, account_id: int, kind: str, limit: int, name: str) -> Iterator[None]:
    """Count an in-flight request of ``kind`` for the account; RequestError over ``limit``."""
    inflight: dict[tuple[int, str], int] = request.app[_INFLIGHT]
    key = (account_id, kind)
    if inflight.get(key, 0) >= limit:
        raise RequestError("limit", f"too many concurrent {kind}s", limit=name)
    inflight[key] = inflight.get(key, 0) + 1
    try:
        yield
    finally:
        inflight[key] -= 1


async def read_body(request: web.Request, limit: int, name: str) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise RequestError("limit", "body too large", limit=name)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise RequestError("limit", "body too large", limit=name)
        chunks.append(chunk)
    return b"".join(chunks)


# -- handlers ----------------------------------------------------------------------------------------

async def session_handler(request: web.Request) -> web.Response:
    p = await principal_of(request)
    if isinstance(p, web.Response):
        return p
    return json_response(session_resource(p.account, request.app[JMAP_KEY].limits,
                                          origin(request)))


async def api_handler(request: web.Request) -> web.Response:
    p = await principal_of(request)
    if isinstance(p, web.Response):
        return p
    deps = request.app[JMAP_KEY]
    try:
        with slot(request, p.account.id, "request", deps.limits.max_concurrent_requests,
                  "maxConcurrentRequests"):
            body = await read_body(request, deps.limits.max_size_request, "maxSizeRequest")
            req = parse_request(body, deps.limits, CAPABILITIES)
            resp = await execute(deps, p.account, req, locale=locale_of(request))
    except RequestError as err:
        return problem(err)
    resp.session_state = session_state(p.account, deps.limits, origin(request))
    return json_response(resp.to_json())


async def upload_handler(request: web.Request) -> web.Response:
    p = await principal_of(request)
    if isinstance(p, web.Response):
        return p
    deps = request.app[JMAP_KEY]
    account_id = request.match_info["accountId"]
    if account_id != ids.encode(ids.ACCOUNT, p.account.id):
        raise web.HTTPNotFound()
    ctype = request.headers.get("Content-Type", "application/octet-stream")
    try:
        with slot(request, p.account.id, "upload", deps.limits.max_concurrent_upload,
                  "maxConcurrentUpload"):
            data = await read_body(request, deps.limits.max_size_upload, "maxSizeUpload")
            blob = await jact.do_upload_blob(deps.ctx, p.account.id, data, ctype,
                                             limit=deps.limits.max_size_upload)
    except RequestError as err:
        return problem(err)
    except TooLarge:
        return problem(RequestError("limit", "upload too large", limit="maxSizeUpload"))
    return json_response({"accountId": account_id, "blobId": ids.blob_id(blob), "type": ctype,
                          "size": len(data)}, status=201)


async def download_handler(request: web.Request) -> web.StreamResponse:
    p = await principal_of(request)
    if isinstance(p, web.Response):
        return p
    deps = request.app[JMAP_KEY]
    if request.match_info["accountId"] != ids.encode(ids.ACCOUNT, p.account.id):
        raise web.HTTPNotFound()
    data = await read_blob(deps.reader, p.account, request.match_info["blobId"])
    if data is None:
        raise web.HTTPNotFound()
    ctype = request.query.get("type", "application/octet-stream")
    if not _TYPE.match(ctype):
        ctype = "application/octet-stream"
    name = request.match_info["name"]
    return web.Response(body=data, content_type=ctype, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        "Cache-Control": "private, immutable, max-age=31536000",
        # the blob is hostile content: never let it run in our origin
        "Content-Security-Policy": "sandbox; default-src 'none'",
    })


def _types(value: str | None) -> frozenset[str] | None:
    if value is None or value.strip() in ("", "*"):
        return None
    return frozenset(t.strip() for t in value.split(",") if t.strip())


async def _state_changes(deps: JmapDeps, account_id: int, wanted: frozenset[str] | None
                         ) -> AsyncIterator[dict[str, Any]]:
    """StateChange objects for the account as the bus delivers changes."""
    async with deps.ctx.bus.subscription(account_id) as sub:
        async for batch in sub:
            if batch is None:
                st = str(await deps.reader.modseq(account_id))
                yield full_state_change(account_id, st, wanted)
                continue
            sc = state_change(batch, wanted)
            if sc is not None:
                yield sc


async def eventsource_handler(request: web.Request) -> web.StreamResponse:
    """RFC 8620 §7.3: ``types``, ``closeafter`` (state|no) and ``ping`` (seconds, 0 = off)."""
    p = await principal_of(request)
    if isinstance(p, web.Response):
        return p
    deps = request.app[JMAP_KEY]
    wanted = _types(request.query.get("types"))
    close_after = request.query.get("closeafter", "no") == "state"
    try:
        ping = max(0, min(3600, int(request.query.get("ping", "0"))))
    except ValueError:
        ping = 0
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    await resp.write(b": rongmail\n\n")
    stream = _state_changes(deps, p.account.id, wanted).__aiter__()

    async def send(sc: dict[str, Any]) -> None:
        # the event id is the newest state, so a reconnecting client's Last-Event-ID tells us
        # whether it missed anything
        states = [s for a in sc["changed"].values() for s in a.values()]
        await resp.write(f"event: state\nid: {max(states, key=int)}\ndata: ".encode()
                         + dumps(sc) + b"\n\n")

    try:
        last = request.headers.get("Last-Event-ID")
        if last is not None:
            current = str(await deps.reader.modseq(p.account.id))
            if last != current:
                await send(full_state_change(p.account.id, current, wanted))
                if close_after:
                    return resp
        # wake at least every LIVENESS_CHECK seconds to notice a client that went away (aiohttp
        # only reports it on a write), so closed tabs do not keep subscriptions until the ping
        waited = 0.0
        nxt = asyncio.ensure_future(stream.__anext__())
        try:
            while True:
                done, _ = await asyncio.wait({nxt}, timeout=LIVENESS_CHECK)
                if not done:
                    transport = request.transport
                    if transport is None or transport.is_closing():
                        break
                    waited += LIVENESS_CHECK
                    if ping and waited >= ping:
                        waited = 0.0
                        await resp.write(
                            b"event: ping\ndata: " + dumps({"interval": ping}) + b"\n\n")
                    continue
                waited = 0.0
                await send(nxt.result())
                if close_after:
                    break
                nxt = asyncio.ensure_future(stream.__anext__())
        finally:
            nxt.cancel()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()  # type: ignore[attr-defined]
    return resp


LIVENESS_CHECK = 2.0


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    """RFC 8887: Request/Response over a WebSocket, plus WebSocketPushEnable/Disable."""
    p = await principal_of(request)
    if isinstance(p, web.Response):
        return p
    deps = request.app[JMAP_KEY]
    ws = web.WebSocketResponse(protocols=("jmap",), max_msg_size=deps.limits.max_size_request)
    await ws.prepare(request)
    push: asyncio.Task[None] | None = None
    locale = locale_of(request)

    async def pusher(wanted: frozenset[str] | None, push_state: str | None) -> None:
        current = str(await deps.reader.modseq(p.account.id))
        if push_state is not None and push_state != current:
            await ws.send_str(dumps({**full_state_change(p.account.id, current, wanted),
                                     "pushState": current}).decode())
        async for sc in _state_changes(deps, p.account.id, wanted):
            states = [s for a in sc["changed"].values() for s in a.values()]
            await ws.send_str(dumps({**sc, "pushState": max(states, key=int)}).decode())

    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            request_id: Any = None
            try:
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    raise RequestError("notJSON") from None
                if not isinstance(data, dict):
                    raise RequestError("notRequest")
                request_id = data.get("id")
                kind = data.get("@type")
                if kind == "Request":
                    body = {k: v for k, v in data.items() if k not in ("@type", "id")}
                    req = request_from_json(body, deps.limits, CAPABILITIES)
                    with slot(request, p.account.id, "request",
                              deps.limits.max_concurrent_requests, "maxConcurrentRequests"):
                        resp = await execute(deps, p.account, req, locale=locale)
                    resp.session_state = session_state(p.account, deps.limits, origin(request))
                    out = {"@type": "Response", **resp.to_json()}
                    if request_id is not None:
                        out["requestId"] = request_id
                    await ws.send_str(dumps(out).decode())
                elif kind == "WebSocketPushEnable":
                    if push is not None:
                        push.cancel()
                    types = data.get("dataTypes")
                    wanted = frozenset(types) if isinstance(types, list) else None
                    push = asyncio.create_task(pusher(wanted, data.get("pushState")))
                elif kind == "WebSocketPushDisable":
                    if push is not None:
                        push.cancel()
                        push = None
                else:
                    raise RequestError("notRequest", "unknown @type")
            except RequestError as err:
                out = {"@type": "RequestError", **err.to_json()}
                if request_id is not None:
                    out["requestId"] = request_id
                await ws.send_str(dumps(out).decode())
    finally:
        if push is not None:
            push.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await push
    return ws


def add_routes(app: web.Application, deps: JmapDeps) -> None:
    app[JMAP_KEY] = deps
    app[_INFLIGHT] = {}
    app.router.add_get("/.well-known/jmap", session_handler)
    app.router.add_post("/jmap/api", api_handler)
    app.router.add_post("/jmap/upload/{accountId}", upload_handler)
    app.router.add_post("/jmap/upload/{accountId}/", upload_handler)
    app.router.add_get("/jmap/download/{accountId}/{blobId}/{name}", download_handler)
    app.router.add_get("/jmap/eventsource", eventsource_handler)
    app.router.add_get("/jmap/ws", websocket_handler)
