"""Helpers for admin API tests: the environment (a real HTTP listener with the admin API, the
web login and JMAP) and one bearer token per role."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PASSWORD = "Correct-Horse-9-Battery"

#: the cast: one account per role in tenant "acme" (domains acme.test and acme2.test), and a
#: user of another tenant ("other", other.test)
ROLES = ("super_admin", "tenant_admin", "domain_admin", "helpdesk", "auditor", "user")


@dataclass
class AdminEnv:
    ctx: Any
    reader: Any
    base: str
    http: Any
    tokens: dict[str, str]
    ids: dict[str, int] = field(default_factory=dict)

    def addr(self, role: str) -> str:
        return f"{role.replace('_', '')}@acme.test"

    async def call(self, role: str | None, method: str, path: str, body: Any = None, *,
                   headers: dict[str, str] | None = None, data: Any = None
                   ) -> tuple[int, Any]:
        h = dict(headers or {})
        if role is not None:
            h["Authorization"] = f"Bearer {self.tokens[role]}"
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        async with self.http.request(method, self.base + "/api/admin" + path, data=data,
                                     headers=h) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text) if text else None
            except ValueError:
                return r.status, text
