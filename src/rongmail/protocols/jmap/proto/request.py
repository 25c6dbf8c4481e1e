"""Parsing a JMAP Request object (RFC 8620 §3.3) and shaping the Response (§3.4). Sans-IO.

:func:`parse_request` takes the raw body and the advertised limits and returns a
:class:`Request` or raises :class:`~.errors.RequestError` with the §3.6.1 type: ``notJSON``
(not UTF-8 JSON), ``notRequest`` (wrong shape or types), ``unknownCapability`` (a ``using`` URI
the server does not know) or ``limit`` (``maxSizeRequest``, ``maxCallsInRequest``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import orjson

from rongmail.protocols.jmap.proto.errors import RequestError


@dataclass(frozen=True, slots=True)
class Limits:
    """RFC 8620 §2 ``urn:ietf:params:jmap:core`` capability values."""

    max_size_upload: int = 50_000_000
    max_concurrent_upload: int = 4
    max_size_request: int = 10_000_000
    max_concurrent_requests: int = 32
    max_calls_in_request: int = 32
    max_objects_in_get: int = 500
    max_objects_in_set: int = 500


@dataclass(frozen=True, slots=True)
class Invocation:
    name: str
    arguments: dict[str, Any]
    call_id: str


@dataclass(slots=True)
class Request:
    using: list[str]
    calls: list[Invocation]
    created_ids: dict[str, str] | None = None


@dataclass(slots=True)
class Response:
    responses: list[list[Any]] = field(default_factory=list)
    session_state: str = ""
    created_ids: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"methodResponses": self.responses,
                               "sessionState": self.session_state}
        if self.created_ids is not None:
            out["createdIds"] = self.created_ids
        return out


def parse_request(body: bytes, limits: Limits, known_capabilities: Collection[str]) -> Request:
    if len(body) > limits.max_size_request:
        raise RequestError("limit", "request too large", limit="maxSizeRequest")
    try:
        data = orjson.loads(body)  # strict RFC 8259 JSON, UTF-8 only (RFC 8620 §3.1)
    except orjson.JSONDecodeError:
        raise RequestError("notJSON", "the request body is not UTF-8 JSON") from None
    return request_from_json(data, limits, known_capabilities)


def request_from_json(data: Any, limits: Limits, known_capabilities: Collection[str]) -> Request:
    if not isinstance(data, dict):
        raise RequestError("notRequest", "the request is not a JSON object")
    using = data.get("using")
    calls = data.get("methodCalls")
    created = data.get("createdIds")
    if not isinstance(using, list) or not all(isinstance(u, str) for u in using):
        raise RequestError("notRequest", "'using' must be a list of strings")
    if not isinstance(calls, list):
        raise RequestError("notRequest", "'methodCalls' must be a list")
    if created is not None and (not isinstance(created, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in created.items())):
        raise RequestError("notRequest", "'createdIds' must map strings to strings")
    unknown = [u for u in using if u not in known_capabilities]
    if unknown:
        raise RequestError("unknownCapability", f"unknown capability {unknown[0]}")
    if len(calls) > limits.max_calls_in_request:
        raise RequestError("limit", "too many method calls", limit="maxCallsInRequest")
    out: list[Invocation] = []
    for c in calls:
        if (not isinstance(c, list) or len(c) != 3 or not isinstance(c[0], str)
                or not isinstance(c[1], dict) or not isinstance(c[2], str)):
            raise RequestError("notRequest", "each method call is [name, arguments, callId]")
        out.append(Invocation(c[0], c[1], c[2]))
    return Request(using, out, created)
