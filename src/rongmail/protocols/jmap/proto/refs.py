"""Result references (RFC 8620 §3.7) and JSON Pointer evaluation (RFC 6901 plus JMAP's ``*``).

An argument named ``#foo`` holds ``{"resultOf", "name", "path"}``; it is replaced by argument
``foo`` whose value is the pointer ``path`` evaluated against the earlier response whose method
call id is ``resultOf`` and whose response name is ``name``. Any failure is
``invalidResultReference``; having both ``foo`` and ``#foo`` is ``invalidArguments``.

Extension (as Fastmail accepts, and the ``jmapc`` client sends): references nested inside the
``filter`` argument (``{"filter": {"#inMailbox": {...}}}``) are resolved too. Only there: other
``#`` keys (``mailboxIds`` creation-id references, RFC 8620 §5.3) are not result references.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rongmail.protocols.jmap.proto.errors import (
    INVALID_ARGUMENTS,
    INVALID_RESULT_REFERENCE,
    MethodError,
)


class PointerError(ValueError):
    pass


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def evaluate_pointer(doc: Any, path: str) -> Any:
    """RFC 8620 §3.7: a JSON Pointer where ``*`` maps over an array, flattening arrays."""
    if path == "":
        return doc
    if not path.startswith("/"):
        raise PointerError(path)
    return _walk(doc, [_unescape(t) for t in path[1:].split("/")])


def _walk(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        return doc
    tok, rest = tokens[0], tokens[1:]
    if isinstance(doc, list):
        if tok == "*":
            out: list[Any] = []
            for item in doc:
                v = _walk(item, rest)
                if isinstance(v, list):
                    out.extend(v)
                else:
                    out.append(v)
            return out
        if not tok.isdigit() or (len(tok) > 1 and tok[0] == "0") or int(tok) >= len(doc):
            raise PointerError(tok)
        return _walk(doc[int(tok)], rest)
    if isinstance(doc, dict):
        if tok not in doc:
            raise PointerError(tok)
        return _walk(doc[tok], rest)
    raise PointerError(tok)


def resolve_references(arguments: dict[str, Any], previous: Sequence[Sequence[Any]]
                       ) -> dict[str, Any]:
    """Return ``arguments`` with every ``#name`` reference replaced by its value."""
    out = _resolve_level(arguments, previous)
    if isinstance(out.get("filter"), dict):
        out = {**out, "filter": _resolve_filter(out["filter"], previous)}
    return out


def _resolve_filter(f: Any, previous: Sequence[Sequence[Any]]) -> Any:
    if isinstance(f, list):
        return [_resolve_filter(x, previous) for x in f]
    if not isinstance(f, dict):
        return f
    f = _resolve_level(f, previous)
    return {k: (_resolve_filter(v, previous) if k == "conditions" else v) for k, v in f.items()}


def _resolve_level(arguments: dict[str, Any], previous: Sequence[Sequence[Any]]
                   ) -> dict[str, Any]:
    if not any(k.startswith("#") for k in arguments):
        return arguments
    out: dict[str, Any] = {}
    for key, value in arguments.items():
        if not key.startswith("#"):
            out[key] = value
            continue
        name = key[1:]
        if name in arguments:
            raise MethodError(INVALID_ARGUMENTS, f"both '{name}' and '#{name}' given")
        if (not isinstance(value, dict) or not isinstance(value.get("resultOf"), str)
                or not isinstance(value.get("name"), str)
                or not isinstance(value.get("path"), str)):
            raise MethodError(INVALID_RESULT_REFERENCE, f"malformed reference '#{name}'")
        target = next((r for r in previous if r[2] == value["resultOf"]), None)
        if target is None or target[0] != value["name"]:
            raise MethodError(INVALID_RESULT_REFERENCE,
                              f"no '{value['name']}' response for '{value['resultOf']}'")
        try:
            out[name] = evaluate_pointer(target[1], value["path"])
        except PointerError:
            raise MethodError(INVALID_RESULT_REFERENCE,
                              f"path {value['path']} not found") from None
    return out
