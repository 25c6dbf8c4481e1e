"""``rongmail domain|user|alias|group`` — add, list, show, disable, delete, passwd."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from rongmail.cli.common import add_data_dir, data_path, run, say


def _with_app(fn: Callable[[Any], Awaitable[int | None]]) -> Callable[[argparse.Namespace], int]:
    def cmd(args: argparse.Namespace) -> int:
        from rongmail.app import open_app

        async def go() -> int:
            app = await open_app(data_path(args))
            try:
                return (await fn((app, args))) or 0
            finally:
                await app.close()

        return run(go)

    return cmd


def _print(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        print("  ".join(f"{k}={v}" for k, v in r.items()))


def _password(args: argparse.Namespace) -> str:
    if args.password:
        return str(args.password)
    env = os.environ.get("RONGMAIL_PASSWORD")
    if env:
        return env
    if sys.stdin.isatty():
        return getpass.getpass()
    return sys.stdin.readline().rstrip("\n")


# -- domain -------------------------------------------------------------------------------------

async def domain_add(a: Any) -> int:
    from rongmail.actions import accounts as acc
    from rongmail.store.sql import directory as d

    app, args = a
    tenant = await app.ctx.meta.read(d.get_tenant_by_name(args.tenant)) if args.tenant else None
    if tenant is None:
        tenants = await app.ctx.meta.read(d.list_tenants())
        if args.tenant or not tenants:
            tenant = await acc.do_create_tenant(app.ctx, args.tenant or args.name.split(".")[0],
                                                display_name=args.name)
        else:
            tenant = tenants[0]
    dom = await acc.do_create_domain(app.ctx, tenant.id, args.name, alias_of=args.alias_of)
    if not args.alias_of:
        from rongmail.cli.setup import create_dkim_keys

        await create_dkim_keys(app, dom)
    say("cli.domain.added", domain=dom.name)
    return 0


async def domain_list(a: Any) -> int:
    app, args = a
    doms = await app.reader.domains()
    _print([{"domain": x.name, "tenant": x.tenant_id, "disabled": x.disabled,
             "alias_of": x.alias_of} for x in doms], args.json)
    return 0


async def domain_show(a: Any) -> int:
    from rongmail.core.address import normalize_domain
    from rongmail.errors import NotFound
    from rongmail.store.sql import directory as d

    app, args = a
    dom = await app.reader.domain(normalize_domain(args.name))
    if dom is None:
        raise NotFound("domain.unknown", domain=args.name)
    users = await app.ctx.meta.read(d.list_accounts(domain_id=dom.id))
    aliases = await app.ctx.meta.read(d.list_aliases(domain_id=dom.id))
    _print([{"domain": dom.name, "tenant": dom.tenant_id, "disabled": dom.disabled,
             "users": len(users), "aliases": len(aliases)}], args.json)
    return 0


async def domain_disable(a: Any) -> int:
    from rongmail.actions import accounts as acc

    app, args = a
    await acc.do_disable_domain(app.ctx, args.name, disabled=not args.enable)
    say("cli.disabled", what=args.name)
    return 0


async def domain_delete(a: Any) -> int:
    from rongmail.actions import accounts as acc

    app, args = a
    await acc.do_delete_domain(app.ctx, args.name)
    say("cli.deleted", what=args.name)
    return 0


# -- user ---------------------------------------------------------------------------------------

async def user_add(a: Any) -> int:
    from rongmail.actions import accounts as acc

    app, args = a
    pw = None if args.kind == "shared" else _password(args)
    u = await acc.do_create_account(app.ctx, args.email, pw, display_name=args.name or "",
                                    role=args.role, kind=args.kind,
                                    quota_bytes=int(args.quota_mb) << 20)
    say("cli.user.added", email=u.address)
    return 0


async def user_list(a: Any) -> int:
    from rongmail.core.address import normalize_domain
    from rongmail.store.sql import directory as d

    app, args = a
    dom_id = None
    if args.domain:
        dom = await app.reader.domain(normalize_domain(args.domain))
        dom_id = dom.id if dom else -1
    users = await app.ctx.meta.read(d.list_accounts(domain_id=dom_id))
    _print([{"email": u.address, "name": u.display_name, "kind": u.kind, "role": u.role,
             "disabled": u.disabled, "used_mb": round(u.used_bytes / 1048576, 1)}
            for u in users], args.json)
    return 0


async def user_show(a: Any) -> int:
    from rongmail.core.address import normalize_address
    from rongmail.errors import NotFound

    app, args = a
    u = await app.reader.account_by_address(normalize_address(args.email))
    if u is None:
        raise NotFound("user.unknown", email=args.email)
    boxes = await app.reader.mailboxes(u.id)
    counts = await app.reader.mailbox_counts(u.id)
    _print([{"email": u.address, "name": u.display_name, "kind": u.kind, "role": u.role,
             "disabled": u.disabled, "quota_mb": u.quota_bytes >> 20,
             "used_bytes": u.used_bytes,
             "mailboxes": {b.name: counts[b.id].total if b.id in counts else 0 for b in boxes}}],
           args.json)
    return 0


async def user_disable(a: Any) -> int:
    from rongmail.actions import accounts as acc

    app, args = a
    await acc.do_disable_account(app.ctx, args.email, disabled=not args.enable)
    say("cli.disabled", what=args.email)
    return 0


async def user_delete(a: Any) -> int:
    from rongmail.actions import accounts as acc

    app, args = a
    await acc.do_delete_account(app.ctx, args.email)
    say("cli.deleted", what=args.email)
    return 0


async def user_passwd(a: Any) -> int:
    from rongmail.actions import accounts as acc

    app, args = a
    await acc.do_set_password(app.ctx, args.email, _password(args))
    say("cli.passwd.done", email=args.email)
    return 0


# -- alias / group ------------------------------------------------------------------------------

def _alias_cmds(kind: str) -> dict[str, Callable[[Any], Awaitable[int]]]:
    async def add(a: Any) -> int:
        from rongmail.actions import accounts as acc

        app, args = a
        al = await acc.do_create_alias(app.ctx, args.address, args.members, kind=kind,
                                       display_name=args.name or "")
        say(f"cli.{kind}.added", address=al.address)
        return 0

    async def lst(a: Any) -> int:
        from rongmail.store.sql import directory as d

        app, args = a
        rows = await app.ctx.meta.read(d.list_aliases(kind=kind))
        _print([{"address": x.address, "members": ",".join(x.members),
                 "disabled": x.disabled} for x in rows], args.json)
        return 0

    async def show(a: Any) -> int:
        from rongmail.core.address import normalize_address
        from rongmail.errors import NotFound

        app, args = a
        al = await app.reader.alias(normalize_address(args.address))
        if al is None or al.kind != kind:
            raise NotFound(what=args.address)
        _print([{"address": al.address, "kind": al.kind, "name": al.display_name,
                 "members": list(al.members), "disabled": al.disabled}], args.json)
        return 0

    async def disable(a: Any) -> int:
        from rongmail.core.address import normalize_address
        from rongmail.store.sql import directory as d

        app, args = a
        await app.ctx.meta.write(d.set_alias_disabled(normalize_address(args.address),
                                                      not args.enable))
        say("cli.disabled", what=args.address)
        return 0

    async def delete(a: Any) -> int:
        from rongmail.actions import accounts as acc

        app, args = a
        await acc.do_delete_alias(app.ctx, args.address)
        say("cli.deleted", what=args.address)
        return 0

    return {"add": add, "list": lst, "show": show, "disable": disable, "delete": delete}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("domain", help="manage mail domains")
    ds = p.add_subparsers(dest="sub", required=True)
    x = ds.add_parser("add")
    x.add_argument("name")
    x.add_argument("--tenant", help="tenant (company) name; created if missing")
    x.add_argument("--alias-of", help="make this an alias domain of another")
    x.set_defaults(func=_with_app(domain_add))
    for verb, fn in (("list", domain_list), ("show", domain_show), ("disable", domain_disable),
                     ("delete", domain_delete)):
        x = ds.add_parser(verb)
        if verb != "list":
            x.add_argument("name")
        if verb == "disable":
            x.add_argument("--enable", action="store_true", help="re-enable instead")
        x.set_defaults(func=_with_app(fn))
    for x in ds.choices.values():
        add_data_dir(x)
        x.add_argument("--json", action="store_true")

    p = sub.add_parser("user", help="manage users and shared mailboxes")
    us = p.add_subparsers(dest="sub", required=True)
    x = us.add_parser("add")
    x.add_argument("email")
    x.add_argument("--password", help="default: $RONGMAIL_PASSWORD, the terminal, or stdin")
    x.add_argument("--name", help="display name")
    x.add_argument("--role", default="user", choices=["user", "admin"])
    x.add_argument("--kind", default="user", choices=["user", "shared"])
    x.add_argument("--quota-mb", default=0, type=int, help="0 = unlimited")
    x.set_defaults(func=_with_app(user_add))
    x = us.add_parser("list")
    x.add_argument("--domain")
    x.set_defaults(func=_with_app(user_list))
    for verb, fn in (("show", user_show), ("disable", user_disable), ("delete", user_delete),
                     ("passwd", user_passwd)):
        x = us.add_parser(verb)
        x.add_argument("email")
        if verb == "disable":
            x.add_argument("--enable", action="store_true", help="re-enable instead")
        if verb == "passwd":
            x.add_argument("--password")
        x.set_defaults(func=_with_app(fn))
    for x in us.choices.values():
        add_data_dir(x)
        x.add_argument("--json", action="store_true")

    for kind in ("alias", "group"):
        p = sub.add_parser(kind, help=f"manage {kind}es" if kind == "alias" else "manage groups "
                           "(distribution lists)")
        ss = p.add_subparsers(dest="sub", required=True)
        cmds = _alias_cmds(kind)
        x = ss.add_parser("add")
        x.add_argument("address")
        x.add_argument("members", nargs="+")
        x.add_argument("--name")
        x.set_defaults(func=_with_app(cmds["add"]))
        x = ss.add_parser("list")
        x.set_defaults(func=_with_app(cmds["list"]))
        for verb in ("show", "disable", "delete"):
            x = ss.add_parser(verb)
            x.add_argument("address")
            if verb == "disable":
                x.add_argument("--enable", action="store_true")
            x.set_defaults(func=_with_app(cmds[verb]))
        for x in ss.choices.values():
            add_data_dir(x)
            x.add_argument("--json", action="store_true")
