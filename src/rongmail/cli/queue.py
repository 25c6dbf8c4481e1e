"""``rongmail queue list|show|retry|hold|release|delete`` — inspect and steer the outbound queue.

Reads use the queue SQL operations; every change goes through ``actions/queue.py``. ``main.py``
picks this group up through :func:`register`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from rongmail.cli.common import add_data_dir, data_path, run, say


def _when(ts: int | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _with_app(
    fn: Callable[[Any, argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    def cmd(args: argparse.Namespace) -> int:
        from rongmail.app import open_app

        async def go() -> int:
            app = await open_app(data_path(args))
            try:
                return await fn(app, args)
            finally:
                await app.close()

        return run(go)

    return cmd


async def _list(app: Any, args: argparse.Namespace) -> int:
    from rongmail.store.sql import queue as qs

    rows = await app.ctx.meta.read(qs.list_messages(limit=args.limit, held_only=args.held))
    out = [
        {
            "id": s.message.id,
            "from": s.message.mail_from or "<>",
            "size": s.message.size,
            "queued": _when(s.message.created_at),
            "recipients": s.total,
            "pending": s.active,
            "next": _when(s.next_attempt_at),
            "held": s.message.held,
            "last": s.last_reply or "",
        }
        for s in rows
    ]
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
    elif not out:
        say("cli.queue.empty")
    else:
        for r in out:
            flag = "!" if r["held"] else " "
            print(f"{r['id']:>8}{flag} {r['queued']}  {r['size']:>9}  {r['from']}  "
                  f"{r['pending']}/{r['recipients']} next={r['next']}  {r['last'][:60]}")  # fmt: skip
    return 0


async def _show(app: Any, args: argparse.Namespace) -> int:
    from rongmail.errors import NotFound
    from rongmail.store.sql import queue as qs

    m = await app.ctx.meta.read(qs.get_message(args.id))
    if m is None:
        raise NotFound(what=f"queue {args.id}")
    rcpts = await app.ctx.meta.read(qs.recipients_of(args.id))
    out = {
        "id": m.id, "from": m.mail_from or "<>", "size": m.size, "source": m.source,
        "queued": _when(m.created_at), "expires": _when(m.expires_at), "held": m.held,
        "envid": m.envid, "ret": m.ret, "smtputf8": m.smtputf8,
        "recipients": [
            {"id": r.id, "rcpt": r.rcpt, "state": r.state, "attempts": r.attempts,
             "next": _when(r.next_attempt_at) if r.state in qs.ACTIVE else "-",
             "last_attempt": _when(r.last_attempt_at), "status": r.last_status,
             "reply": r.last_reply, "remote": r.remote_host, "notify": r.notify}
            for r in rcpts
        ],
    }  # fmt: skip
    if args.headers:
        raw = await app.ctx.blobs.get(m.tenant_id, m.blob_id)
        end = raw.find(b"\r\n\r\n")
        out["headers"] = (m.prepend + (raw if end < 0 else raw[:end])).decode("utf-8", "replace")
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


async def _retry(app: Any, args: argparse.Namespace) -> int:
    from rongmail.actions import queue as qa

    for mid in args.ids:
        count = await qa.do_retry_queue_message(app.ctx, mid)
        say("cli.queue.retried", id=mid, count=count)
    return 0


async def _hold(app: Any, args: argparse.Namespace) -> int:
    from rongmail.actions import queue as qa

    for mid in args.ids:
        await qa.do_hold_queue_message(app.ctx, mid)
        say("cli.queue.held", id=mid)
    return 0


async def _release(app: Any, args: argparse.Namespace) -> int:
    from rongmail.actions import queue as qa

    for mid in args.ids:
        await qa.do_release_queue_message(app.ctx, mid)
        say("cli.queue.released", id=mid)
    return 0


async def _delete(app: Any, args: argparse.Namespace) -> int:
    from rongmail.actions import queue as qa

    for mid in args.ids:
        await qa.do_delete_queue_message(app.ctx, mid)
        say("cli.queue.deleted", id=mid)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("queue", help="outbound mail queue")
    qs = p.add_subparsers(dest="sub", required=True)

    ls = qs.add_parser("list", help="list queued messages")
    add_data_dir(ls)
    ls.add_argument("--held", action="store_true", help="only held messages")
    ls.add_argument("--limit", type=int, default=1000)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_with_app(_list))

    sh = qs.add_parser("show", help="show one message and its recipients")
    add_data_dir(sh)
    sh.add_argument("id", type=int)
    sh.add_argument("--headers", action="store_true", help="include the message header")
    sh.set_defaults(func=_with_app(_show))

    for name, fn, text in (
        ("retry", _retry, "retry now"),
        ("hold", _hold, "stop delivery until released"),
        ("release", _release, "resume delivery"),
        ("delete", _delete, "remove without a bounce"),
    ):
        c = qs.add_parser(name, help=text)
        add_data_dir(c)
        c.add_argument("ids", type=int, nargs="+")
        c.set_defaults(func=_with_app(fn))
