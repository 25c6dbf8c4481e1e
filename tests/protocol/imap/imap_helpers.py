"""Helpers shared by the IMAP wire tests (imported by name; conftest builds the fixtures)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

USER = "lisi@demo.test"
PASSWORD = "Secret-pass-123"

MAIL = (
    "From: =?UTF-8?B?5byg5LiJ?= <zhangsan@example.com>\r\n"
    "To: Li Si <lisi@demo.test>\r\n"
    "Subject: =?UTF-8?B?5YWz5LqO5Y+R56Wo55qE6YCa55+l?=\r\n"  # 关于发票的通知
    "Message-ID: <{mid}@example.com>\r\n"
    "Date: Fri, 27 Nov 2026 10:00:00 +0800\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\n"
    "您好，请查收本月的报价单和增值税发票。Please see the attached invoice.\r\n"
)

PLAIN = (
    "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
    "To: mooch@owatagu.siam.edu.example\r\n"
    "Subject: afternoon meeting\r\n"
    "Message-ID: <{mid}@Blurdybloop.example>\r\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n"
    "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
)


def mail(mid: str = "a1", template: str = MAIL) -> bytes:
    return template.replace("{mid}", mid).encode()


@dataclass
class ImapEnv:
    host: str
    port: int
    tls_port: int | None
    ctx: Any
    reader: Any
    account: Any
    inbox: Any
    loop: asyncio.AbstractEventLoop
    server: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    async def run(self, fn: Callable[[], T]) -> T:
        """Run a blocking client script in a thread."""
        return await asyncio.to_thread(fn)

    async def deliver(self, raw: bytes, mailbox: str = "inbox", **kw: Any) -> Any:
        from rongmail.actions import messages as msg

        mb = await self.reader.mailbox_by_role(self.account.id, mailbox)
        return await msg.do_append_message(self.ctx, self.account.id, [mb.id], raw, **kw)

    def deliver_from_thread(self, raw: bytes, **kw: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(self.deliver(raw, **kw), self.loop).result(10)
