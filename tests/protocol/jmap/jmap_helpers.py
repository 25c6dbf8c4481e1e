"""Helpers for JMAP tests: the environment object and message builders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USER = "zhangsan@demo.test"
USER2 = "lisi@demo.test"
PASSWORD = "Correct-Horse-9-Battery"
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
         "urn:ietf:params:jmap:submission", "urn:ietf:params:jmap:vacationresponse"]


@dataclass
class JmapEnv:
    ctx: Any
    reader: Any
    account: Any
    other: Any
    base: str
    token: str
    token2: str
    http: Any

    @property
    def aid(self) -> str:
        return f"A{self.account.id}"

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def post(self, body: Any, *, token: str | None = None, raw: bytes | None = None
                   ) -> tuple[int, Any]:
        data = raw if raw is not None else __import__("json").dumps(body).encode()
        async with self.http.post(self.base + "/jmap/api", data=data,
                                  headers={**self.headers(token),
                                           "Content-Type": "application/json"}) as r:
            return r.status, await r.json(content_type=None)

    async def call(self, *calls: list[Any], using: list[str] | None = None) -> list[list[Any]]:
        status, body = await self.post({"using": using or USING, "methodCalls": list(calls)})
        assert status == 200, body
        return body["methodResponses"]

    async def one(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        args = {"accountId": self.aid, **args}
        [[rname, result, _]] = await self.call([name, args, "c0"])
        assert rname == name, result
        return result

    async def mailbox_id(self, role: str) -> str:
        mb = await self.reader.mailbox_by_role(self.account.id, role)
        return f"M{mb.id}"

    async def deliver(self, subject: str = "Hello", body: str = "Body text", *,
                      sender: str = "wangwu@example.org", to: str | None = None,
                      account: Any = None, date: str = "Mon, 02 Mar 2026 10:00:00 +0800",
                      extra: str = "") -> int:
        """Deliver like SMTP does (actions.messages.do_deliver)."""
        from rongmail.actions.messages import Target, do_deliver

        acct = account or self.account
        raw = make_message(subject, body, sender=sender, to=to or acct.address, date=date,
                           extra=extra)
        [r] = await do_deliver(self.ctx, raw, [Target(acct.id)])
        return int(r.message_id)


def make_message(subject: str, body: str, *, sender: str, to: str, date: str,
                 extra: str = "") -> bytes:
    from email.header import Header

    subj = Header(subject, "utf-8").encode()
    text = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subj}\r\nDate: {date}\r\n"
            f"Message-ID: <{abs(hash((subject, body, date)))}@example.org>\r\n{extra}"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n")
    return text.encode()
