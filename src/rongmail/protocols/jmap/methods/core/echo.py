"""Core/echo (RFC 8620 §4): returns its arguments unchanged."""

from __future__ import annotations

from typing import Any

from rongmail.protocols.jmap.call import Call


async def core_echo(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    return data
