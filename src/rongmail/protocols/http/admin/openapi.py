"""Build the OpenAPI 3.1 document of the admin API from the route table (never by hand).

Each endpoint states its required permission in ``x-rongmail-permission`` and the roles that
hold it in ``x-rongmail-roles`` (from ``services.admin.roles.ROLE_PERMS``), so API clients and
the console know in advance what a role may do. Errors are RFC 9457 problem details.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from rongmail.services.admin.roles import ROLE_PERMS, Perm


class Documented(Protocol):
    """What the document needs of a route (``admin.core.Endpoint``,
    ``protocols.http.security.ConsoleRoute``)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def perm(self) -> Perm | None: ...
    @property
    def handler(self) -> Callable[..., Any]: ...
    @property
    def summary(self) -> str: ...
    @property
    def tag(self) -> str: ...
    @property
    def body(self) -> dict[str, Any] | None: ...
    @property
    def query(self) -> dict[str, str]: ...
    @property
    def produces(self) -> str: ...
    @property
    def status(self) -> int: ...

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_ERRORS = {code: {"description": text, "content": {"application/problem+json": {
    "schema": _PROBLEM}}} for code, text in (
    ("400", "Invalid input"), ("401", "Not signed in"),
    ("403", "The role may not do this (or CSRF token missing)"),
    ("404", "Not found (or in another tenant)"), ("409", "Already exists"))}


def _openapi_path(path: str) -> tuple[str, list[str]]:
    names: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group(1).split(":", 1)[0]
        names.append(name)
        return "{" + name + "}"

    return re.sub(r"\{([^}]+)\}", sub, path), names


def openapi_document(endpoints: Sequence[Documented],
                     session_only: Sequence[Documented] = ()) -> dict[str, Any]:
    """The document of ``endpoints`` (every credential) and ``session_only`` routes (the
    security console: web session cookie + CSRF only, a Bearer or Basic credential gets 403)."""
    from rongmail.protocols.http.admin.core import PREFIX

    paths: dict[str, dict[str, Any]] = {}
    web_only = {id(ep) for ep in session_only}
    for ep in [*endpoints, *session_only]:
        path, params = _openapi_path(PREFIX + ep.path)
        roles = sorted(str(r) for r, perms in ROLE_PERMS.items()
                       if ep.perm is None and perms or ep.perm in perms)
        op: dict[str, Any] = {
            "summary": ep.summary, "tags": [ep.tag],
            "operationId": f"{ep.method.lower()}_{ep.handler.__name__}",
            "x-rongmail-permission": str(ep.perm) if ep.perm else None,
            "x-rongmail-roles": roles,
            "parameters": [{"name": n, "in": "path", "required": True,
                            "schema": {"type": "string"}} for n in params] + [
                {"name": n, "in": "query", "required": False, "description": d,
                 "schema": {"type": "string"}} for n, d in ep.query.items()],
            "responses": {str(ep.status): {"description": "OK", "content": {
                ep.produces: {"schema": {"type": "object"} if ep.produces ==
                              "application/json" else {"type": "string"}}}}, **_ERRORS},
        }
        if ep.body is not None:
            media = "multipart/form-data" if "file" in ep.body.get("properties", {}) \
                else "application/json"
            op["requestBody"] = {"required": True, "content": {media: {"schema": ep.body}}}
        if id(ep) in web_only:
            op["security"] = [{"session": []}]
        paths.setdefault(path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "RongMail admin API", "version": "1",
                 "description": "Tenants, domains, DNS, users, aliases, roles, queue, audit, "
                                "and the security console (web session only). "
                                "Authenticate with the web session cookie (send X-CSRF-Token "
                                "on writes), a Bearer token, or Basic."},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "rongmail_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"}},
            "schemas": {"Problem": {"type": "object", "properties": {
                "type": {"type": "string"}, "status": {"type": "integer"},
                "title": {"type": "string", "description": "catalogue key"},
                "detail": {"type": "string", "description": "localized text"}}}}},
        "security": [{"session": []}, {"bearer": []}, {"basic": []}],
        "paths": paths,
    }
