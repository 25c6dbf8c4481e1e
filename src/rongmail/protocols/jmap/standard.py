"""The standard methods' shared mechanics (RFC 8620 §5): /get argument handling, /changes from
the change log, /query windows (position, anchor), /queryChanges, and the /set loop.

State strings are the account's modseq in decimal: one counter for every type, so a client
holding state ``s`` for Email may see ``/changes`` return no Email changes and a newer state.
``/changes`` folds the log per object (created then destroyed = omitted, created then updated =
created) and only reads rows of its own type (``Email/changes`` never reports a Mailbox).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from rongmail.core.changes import Change
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import (
    ANCHOR_NOT_FOUND,
    CANNOT_CALCULATE_CHANGES,
    INVALID_ARGUMENTS,
    REQUEST_TOO_LARGE,
    STATE_MISMATCH,
    TOO_MANY_CHANGES,
    MethodError,
    SetError,
    set_error_from,
)

log = logging.getLogger("rongmail.jmap")

GET_ARGS = ("accountId", "ids", "properties")
CHANGES_ARGS = ("accountId", "sinceState", "maxChanges")
QUERY_ARGS = ("accountId", "filter", "sort", "position", "anchor", "anchorOffset", "limit",
              "calculateTotal")
QUERY_CHANGES_ARGS = ("accountId", "filter", "sort", "sinceQueryState", "maxChanges", "upToId",
                      "calculateTotal")
SET_ARGS = ("accountId", "ifInState", "create", "update", "destroy")


async def state(call: Call) -> str:
    return str(await call.deps.reader.modseq(call.account_id))


def parse_state(value: str | None) -> int:
    if value is None or not value.isdigit() or len(value) > 18:
        raise MethodError(CANNOT_CALCULATE_CHANGES, "unknown state")
    return int(value)


# -- /get ------------------------------------------------------------------------------------------

def get_ids(call: Call, args: Args, prefix: str) -> tuple[list[str] | None, list[int | None]]:
    """(requested JMAP ids or None for all, their database ids with None for malformed)."""
    want = args.opt_str_list("ids")
    if want is None:
        return None, []
    if len(want) > call.deps.limits.max_objects_in_get:
        raise MethodError(REQUEST_TOO_LARGE, "too many ids", limit="maxObjectsInGet")
    want = list(dict.fromkeys(want))
    return want, [call.resolve(prefix, i) for i in want]


def get_properties(args: Args, known: Sequence[str], default: Sequence[str]) -> list[str]:
    props = args.opt_str_list("properties")
    if props is None:
        return list(default)
    bad = [p for p in props if p not in known and not p.startswith("header:")]
    if bad:
        raise MethodError(INVALID_ARGUMENTS, f"unknown property '{bad[0]}'")
    return list(dict.fromkeys(["id", *props]))


def check_get_all(call: Call, count: int) -> None:
    if count > call.deps.limits.max_objects_in_get:
        raise MethodError(REQUEST_TOO_LARGE, "too many objects", limit="maxObjectsInGet")


# -- /changes -------------------------------------------------------------------------------------

async def changes(call: Call, args: Args, type_: str, prefix: str) -> dict[str, Any]:
    """RFC 8620 §5.2 from the change log, restricted to ``type_``."""
    since = parse_state(args.opt_str("sinceState"))
    max_changes = args.opt_int("maxChanges", minimum=1)
    reader = call.deps.reader
    current = await reader.modseq(call.account_id)
    if since > current:
        raise MethodError(CANNOT_CALCULATE_CHANGES, "state is from the future")
    oldest = await reader.oldest_change(call.account_id)
    if oldest and since + 1 < oldest:
        raise MethodError(CANNOT_CALCULATE_CHANGES, "state too old")
    rows = await reader.changes_since(call.account_id, since)
    complete = len(rows) < 10000
    upto = current if complete else rows[-1].modseq - 1
    if upto <= since and not complete:
        # one write logged more rows than we page through: the client must resync
        raise MethodError(CANNOT_CALCULATE_CHANGES, "too many changes in one state")
    mine = [c for c in rows if c.type == type_ and c.modseq <= upto]
    has_more = not complete
    if max_changes is not None:
        # the newest modseq boundary at which at most max_changes objects changed
        seen: set[int] = set()
        boundary = since
        for i, c in enumerate(mine):
            seen.add(c.object_id)
            if len(seen) > max_changes:
                break
            if i + 1 == len(mine) or mine[i + 1].modseq != c.modseq:
                boundary = c.modseq
        else:
            boundary = upto
        if boundary != upto:
            if boundary == since:
                raise MethodError(CANNOT_CALCULATE_CHANGES, "too many changes in one state")
            upto, has_more = boundary, True
            mine = [c for c in mine if c.modseq <= upto]
    out = fold(mine, prefix)
    return {"accountId": call.jmap_account_id, "oldState": str(since), "newState": str(upto),
            "hasMoreChanges": has_more, **out}


def fold(rows: Sequence[Change], prefix: str) -> dict[str, list[str]]:
    """Per object, the net effect of its logged changes: created then destroyed = omitted,
    created then updated = created (RFC 8620 §5.2)."""
    folded: dict[int, str] = {}
    for c in rows:
        prev = folded.get(c.object_id)
        if prev is None:
            folded[c.object_id] = c.action
        elif prev == "created" and c.action == "destroyed":
            folded[c.object_id] = "gone"
        elif c.action == "destroyed":
            folded[c.object_id] = "destroyed"
    out: dict[str, list[str]] = {"created": [], "updated": [], "destroyed": []}
    for oid, action in folded.items():
        if action != "gone":
            out[action].append(ids.encode(prefix, oid))
    return out


# -- /query ---------------------------------------------------------------------------------------

def window(call: Call, args: Args, all_ids: list[str]) -> dict[str, Any]:
    """RFC 8620 §5.5 position/anchor/limit over the full sorted result."""
    position = args.integer("position", 0)
    limit = args.opt_int("limit", minimum=0)
    anchor = args.opt_str("anchor")
    total = len(all_ids)
    if anchor is not None:
        try:
            idx = all_ids.index(anchor)
        except ValueError:
            raise MethodError(ANCHOR_NOT_FOUND) from None
        start = max(0, idx + args.integer("anchorOffset", 0))
    else:
        start = position if position >= 0 else max(0, total + position)
    end = total if limit is None else min(total, start + limit)
    out: dict[str, Any] = {"position": min(start, total), "ids": all_ids[start:end]}
    if args.boolean("calculateTotal"):
        out["total"] = total
    return out


async def query_changes(
    call: Call, args: Args, type_: str, prefix: str, all_ids: list[str], current: int,
    *, also_changed: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """RFC 8620 §5.6 by re-running the query: every object of ``type_`` changed since the old
    query state is reported removed and, if it matches now, added at its index (allowed by
    §5.6: ``removed`` may list ids that were not in the old results). Objects that did not
    change keep their relative order because every sort property we offer is immutable.
    ``current`` is the state read *before* ``all_ids`` was computed; ``also_changed`` adds
    ids whose position may have moved without a change of their own (collapsed threads)."""
    since = parse_state(args.opt_str("sinceQueryState"))
    max_changes = args.opt_int("maxChanges", minimum=1)
    up_to = args.opt_str("upToId")
    reader = call.deps.reader
    oldest = await reader.oldest_change(call.account_id)
    if since > current or (oldest and since + 1 < oldest):
        raise MethodError(CANNOT_CALCULATE_CHANGES)
    rows = await reader.changes_since(call.account_id, since)
    if len(rows) >= 10000:
        raise MethodError(CANNOT_CALCULATE_CHANGES)
    changed = {ids.encode(prefix, c.object_id) for c in rows
               if c.type == type_ and c.modseq <= current} | set(also_changed)
    removed = sorted(changed)
    added = []
    for i, oid in enumerate(all_ids):
        if oid in changed:
            added.append({"id": oid, "index": i})
        if up_to is not None and oid == up_to:
            break
    if max_changes is not None and len(removed) + len(added) > max_changes:
        raise MethodError(TOO_MANY_CHANGES)
    out: dict[str, Any] = {"accountId": call.jmap_account_id, "oldQueryState": str(since),
                           "newQueryState": str(current), "removed": removed, "added": added}
    if args.boolean("calculateTotal"):
        out["total"] = len(all_ids)
    return out


# -- /set -----------------------------------------------------------------------------------------

Creator = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
Updater = Callable[[int, dict[str, Any]], Awaitable[dict[str, Any] | None]]
Destroyer = Callable[[int], Awaitable[None]]


async def run_set(call: Call, args: Args, prefix: str, *, create: Creator, update: Updater,
                  destroy: Destroyer) -> dict[str, Any]:
    """RFC 8620 §5.3: create, then update, then destroy; each object fails on its own.

    ``create`` returns the server-set properties (including ``id``); ``update`` the changed
    server-set properties or None; ``destroy`` returns nothing. Each raises
    :class:`SetError` or a :class:`rongmail.errors.MailError` for that object.
    """
    call.check_account(args)
    creates = args.opt_obj("create") or {}
    updates = args.opt_obj("update") or {}
    destroys = args.opt_str_list("destroy") or []
    if len(creates) + len(updates) + len(destroys) > call.deps.limits.max_objects_in_set:
        raise MethodError(REQUEST_TOO_LARGE, "too many objects", limit="maxObjectsInSet")
    old = await state(call)
    if_in = args.opt_str("ifInState")
    if if_in is not None and if_in != old:
        raise MethodError(STATE_MISMATCH)
    out: dict[str, Any] = {"accountId": call.jmap_account_id, "oldState": old}
    created: dict[str, Any] = {}
    not_created: dict[str, Any] = {}
    for cid, obj in creates.items():
        try:
            if not isinstance(obj, dict):
                raise SetError("invalidProperties", "not an object")
            got = await create(cid, obj)
            call.created_ids[cid] = got["id"]
            created[cid] = got
        except Exception as exc:  # noqa: BLE001 - one object's failure never fails the call
            not_created[cid] = set_error_json(exc, call)
    updated: dict[str, Any] = {}
    not_updated: dict[str, Any] = {}
    for jid, patch in updates.items():
        key = call.created_ids.get(jid[1:], jid) if jid.startswith("#") else jid
        try:
            oid = call.resolve(prefix, jid)
            if oid is None:
                raise SetError("notFound")
            if not isinstance(patch, dict):
                raise SetError("invalidPatch", "not an object")
            updated[key] = await update(oid, patch)
        except Exception as exc:  # noqa: BLE001
            not_updated[key] = set_error_json(exc, call)
    destroyed: list[str] = []
    not_destroyed: dict[str, Any] = {}
    for jid in destroys:
        key = call.created_ids.get(jid[1:], jid) if jid.startswith("#") else jid
        try:
            oid = call.resolve(prefix, jid)
            if oid is None:
                raise SetError("notFound")
            await destroy(oid)
            destroyed.append(key)
        except Exception as exc:  # noqa: BLE001
            not_destroyed[key] = set_error_json(exc, call)
    out["newState"] = await state(call)
    out.update(created=created or None, updated=updated or None, destroyed=destroyed or None,
               notCreated=not_created or None, notUpdated=not_updated or None,
               notDestroyed=not_destroyed or None)
    return out


def set_error_json(exc: BaseException, call: Call) -> dict[str, Any]:
    err = set_error_from(exc, call.locale)
    if err.type == "serverFail":
        log.exception("JMAP /set failed", exc_info=exc)
    return err.to_json()


def apply_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 8620 §5.3 PatchObject onto a JSON object (paths ``a/b``, null removes)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in current.items()}
    for path, value in patch.items():
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")]
        target = out
        for p in parts[:-1]:
            nxt = target.get(p)
            if not isinstance(nxt, dict):
                raise SetError("invalidPatch", f"bad path {path}")
            target = nxt
        if value is None:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = value
    return out
