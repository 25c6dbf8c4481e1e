"""Child process for the kill -9 test: appends messages forever from several concurrent
writers, printing "ACK <message_id> <blob_id>" only after each write returned (committed)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from rongmail.actions import accounts as acc
from rongmail.actions import messages as msg
from rongmail.app import open_app


async def main(data_dir: Path) -> None:
    app = await open_app(data_dir)
    a = await app.reader.account_by_address("crash@demo.test")
    if a is None:
        t = await acc.do_create_tenant(app.ctx, "demo")
        await acc.do_create_domain(app.ctx, t.id, "demo.test")
        a = await acc.do_create_account(app.ctx, "crash@demo.test", "Crash-pass-123")
    inbox = await app.reader.mailbox_by_role(a.id, "inbox")
    print("READY", flush=True)
    n = 0

    async def writer(w: int) -> None:
        nonlocal n
        while True:
            n += 1
            raw = (f"From: a@b.test\r\nSubject: crash {w}-{n}\r\nMessage-ID: <{w}.{n}@t>\r\n\r\n"
                   f"body {n} " + "x" * (n % 4000) + "\r\n").encode()
            r = await msg.do_append_message(app.ctx, a.id, [inbox.id], raw)
            sys.stdout.write(f"ACK {r.message_id} {r.blob_id}\n")
            sys.stdout.flush()

    await asyncio.gather(*(writer(i) for i in range(8)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
