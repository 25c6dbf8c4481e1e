"""``rongmail audit verify|list|export|prune`` and ``rongmail security freeze|unfreeze|ldap-sync``.

``audit verify`` recomputes the keyed hash chain (``services.auth.audit.verify_chain``) and exits
1 when any entry was edited, deleted, re-ordered or the newest entries were cut off (and 0 when
intact); ``--expect SEQ:DIGEST`` also checks an anchor saved elsewhere (see ``docs/security.md``).
``audit export`` writes JSON Lines (every stored column, so an export can be re-verified).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rongmail.cli.common import add_data_dir, data_path, locale, run, say
from rongmail.i18n import t


def _with_app(fn: Any) -> Any:
    def cmd(args: argparse.Namespace) -> int:
        from rongmail.app import open_app

        async def go() -> int:
            app = await open_app(data_path(args))
            try:
                return int(await fn(app, args) or 0)
            finally:
                await app.close()

        return run(go)

    return cmd


def _key(app: Any) -> bytes:
    from rongmail.services.auth.audit import load_or_create_audit_key

    return load_or_create_audit_key(app.data_dir / app.settings.security.audit_key_file,
                                    create=False)


def _anchor(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise SystemExit("--expect takes SEQ:DIGEST (64 hex digits)")
    return int(seq), digest.lower()


async def verify(app: Any, args: argparse.Namespace) -> int:
    from rongmail.services.auth.audit import verify_chain

    report = await verify_chain(app.ctx.meta, _key(app), expect=_anchor(args.expect))
    if args.json:
        print(json.dumps({"ok": report.ok, "checked": report.checked,
                          "first": report.first_seq, "last": report.last_seq,
                          "head": report.head_digest,
                          "problems": [{"seq": s, "problem": p} for s, p in report.problems]}))
    elif report.ok:
        say("cli.audit.ok", count=report.checked, first=report.first_seq, last=report.last_seq,
            digest=report.head_digest)
    else:
        loc = locale()
        print(t("cli.audit.failed", loc, count=len(report.problems)), file=sys.stderr)
        for seq, problem in report.problems:
            print("  " + t(problem, loc, seq=seq), file=sys.stderr)
    return 0 if report.ok else 1


def _row(e: Any) -> dict[str, Any]:
    return {**e.fields(), "prev": e.prev, "digest": e.digest}


async def list_(app: Any, args: argparse.Namespace) -> int:
    from rongmail.store.sql import auth as sa

    account_id = None
    if args.account:
        acct = await app.reader.account_by_address(args.account.lower())
        account_id = acct.id if acct else -1
    rows = await app.ctx.meta.read(sa.search_audit(account_id=account_id,
                                                   category=args.category, limit=args.limit))
    for e in rows:
        print(json.dumps(_row(e), ensure_ascii=False))
    return 0


async def export(app: Any, args: argparse.Namespace) -> int:
    from rongmail.store.sql import auth as sa

    after = 0
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        while True:
            page = await app.ctx.meta.read(sa.audit_page(after, 2000))
            if not page:
                break
            for e in page:
                out.write(json.dumps(_row(e), ensure_ascii=False) + "\n")
            after = page[-1].seq
    finally:
        if out is not sys.stdout:
            out.close()
    from rongmail.actions.auth import do_audit

    await do_audit(app.ctx, _key(app), category="export", action="audit.exported",
                   detail={"to": "file" if args.output else "stdout"})
    return 0


async def prune(app: Any, args: argparse.Namespace) -> int:
    from rongmail.actions.auth import do_prune_audit

    days = max(args.days or app.settings.security.audit_retention_days, 180)
    n = await do_prune_audit(app.ctx, _key(app), retention_days=days)
    say("cli.audit.pruned", count=n, days=days)
    return 0


async def _freeze(app: Any, args: argparse.Namespace, *, frozen: bool) -> int:
    from rongmail.actions import auth as aa
    from rongmail.errors import NotFound

    acct = await app.reader.account_by_address(args.address.lower())
    if acct is None:
        raise NotFound(what=args.address)
    if frozen:
        await aa.do_freeze_account(app.ctx, _key(app), acct, reason=args.reason or "cli")
        say("cli.audit.frozen", address=acct.address)
    else:
        await aa.do_unfreeze_account(app.ctx, _key(app), acct)
        say("cli.audit.unfrozen", address=acct.address)
    return 0


async def ldap_sync(app: Any, args: argparse.Namespace) -> int:
    from rongmail.actions.auth import do_sync_ldap
    from rongmail.services.auth.ldap import LdapDirectory

    directory = LdapDirectory(app.settings.security.ldap)
    counts = await do_sync_ldap(app.ctx, _key(app), await directory.users_async())
    print(json.dumps(counts))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="security audit log (hash-chained)")
    ps = p.add_subparsers(dest="audit_command", required=True)
    v = ps.add_parser("verify", help="verify the hash chain; exit 1 if tampered")
    v.add_argument("--expect", help="external anchor SEQ:DIGEST saved earlier")
    v.add_argument("--json", action="store_true")
    add_data_dir(v)
    v.set_defaults(func=_with_app(verify))
    ls = ps.add_parser("list", help="newest entries as JSON lines")
    ls.add_argument("--account")
    ls.add_argument("--category")
    ls.add_argument("--limit", type=int, default=100)
    add_data_dir(ls)
    ls.set_defaults(func=_with_app(list_))
    ex = ps.add_parser("export", help="every entry as JSON lines (re-verifiable)")
    ex.add_argument("--output", "-o")
    add_data_dir(ex)
    ex.set_defaults(func=_with_app(export))
    pr = ps.add_parser("prune", help="remove entries older than the retention (>= 180 days)")
    pr.add_argument("--days", type=int)
    add_data_dir(pr)
    pr.set_defaults(func=_with_app(prune))

    s = sub.add_parser("security", help="account security (freeze / unfreeze)")
    ss = s.add_subparsers(dest="security_command", required=True)
    f = ss.add_parser("freeze", help="freeze an account and revoke its sessions")
    f.add_argument("address")
    f.add_argument("--reason", default="")
    add_data_dir(f)
    f.set_defaults(func=_with_app(lambda app, a: _freeze(app, a, frozen=True)))
    u = ss.add_parser("unfreeze", help="unfreeze an account")
    u.add_argument("address")
    add_data_dir(u)
    u.set_defaults(func=_with_app(lambda app, a: _freeze(app, a, frozen=False)))
    ls_ = ss.add_parser("ldap-sync", help="mirror LDAP / AD users into accounts")
    add_data_dir(ls_)
    ls_.set_defaults(func=_with_app(ldap_sync))
