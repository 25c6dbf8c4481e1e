"""Identity and audit writes (issue 8): the audit log, app passwords, TOTP and recovery codes,
frozen accounts, web sessions and remote sign-out, allowed networks, security alerts.

Invariants:

* Every action here appends its audit entry to the hash-chained log **in the same transaction**
  as the change it records (``_audited``), so the log never misses a committed change and never
  records one that rolled back. ``key`` is the audit chain key (``services.auth.audit``).
* Secrets are returned once to the caller and stored only as SHA-256 (app passwords, recovery
  codes: >= 80 random bits) or sealed under the tenant data key (TOTP); they never reach the
  audit detail or a log line.
* :class:`AuthRecorder` implements ``services.auth.authenticate.SecurityRecorder``: the
  authenticator (a service) writes only through it.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import Any

from rongmail.actions.batches import in_batches
from rongmail.actions.context import ActionContext
from rongmail.core.models import Account
from rongmail.errors import MailError, NotFound, ValidationError
from rongmail.i18n import t
from rongmail.services.admin.reads import open_sealed, seal_bytes
from rongmail.services.auth import credcache, totp
from rongmail.services.auth.authenticate import PROTOCOLS, LoginAudit
from rongmail.services.auth.ldap import LdapUser
from rongmail.services.auth.passkeys import NewPasskey
from rongmail.services.auth.risk import LoginContext
from rongmail.store.sql import auth as sa
from rongmail.store.sql import directory as d
from rongmail.store.sql import mail as ml
from rongmail.store.sql.q import Op

log = logging.getLogger("rongmail.audit")
ADMIN_ROLES = frozenset({"super_admin", "tenant_admin", "admin"})
APP_PASSWORD_PROTOCOLS = tuple(p for p in PROTOCOLS if p not in ("web", "admin"))
_APP_ALPHABET = "abcdefghijkmnpqrstuvwxyz"  # no l/o: read aloud and typed on phones


def _audited(key: bytes, body: Op[Any], *, category: str, action: str, outcome: str = "ok",
             account: Account | None = None, actor_id: int | None = None, remote: str = "",
             detail: dict[str, Any] | None = None) -> Op[Any]:
    result = yield from body
    entry = yield from sa.append_audit(
        key, category=category, action=action, outcome=outcome,
        tenant_id=account.tenant_id if account else None,
        account_id=account.id if account else None, actor_id=actor_id, remote=remote,
        detail=detail)
    log.info("audit seq=%d digest=%s action=%s", entry.seq, entry.digest, action)
    return result


def _nothing() -> Op[None]:
    return None
    yield  # pragma: no cover - makes this a generator


async def do_audit(ctx: ActionContext, key: bytes, *, category: str, action: str,
                   outcome: str = "ok", account: Account | None = None,
                   actor_id: int | None = None, remote: str = "",
                   detail: dict[str, Any] | None = None) -> None:
    """Append one audit entry (logins, admin actions, role changes, admin mail access,
    exports). ``detail`` must hold no secrets."""
    await ctx.meta.write(_audited(key, _nothing(), category=category, action=action,
                                  outcome=outcome, account=account, actor_id=actor_id,
                                  remote=remote, detail=detail))


#: The youngest entry a prune may remove is this old (``security.audit_retention_days`` >= 180).
AUDIT_MIN_RETENTION_DAYS = 180


async def do_prune_audit(ctx: ActionContext, key: bytes, *, before: int | None = None,
                         retention_days: int | None = None, actor_id: int | None = None) -> int:
    """Remove the chain's start up to the newest entry older than ``before`` (unix time) or
    than ``retention_days``; give exactly one. The cut-off is never younger than 180 days
    (``ValidationError``). Returns how many entries were removed.

    Deletes in batches of ``store.sql.auth.AUDIT_PRUNE_BATCH`` entries, each one relaxed
    transaction (the write lock is held briefly; a batch a crash undoes is redone by the next
    prune) that moves the chain's base and chains its own ``audit.pruned`` record
    (``store.sql.auth.prune_audit``), so the chain verifies after every batch; repeats until a
    batch comes back short. The end is looked up once: entries appended meanwhile are young."""
    now = int(time.time())
    if (before is None) == (retention_days is None):
        raise ValidationError(what="before")
    if before is None:
        assert retention_days is not None
        if retention_days < AUDIT_MIN_RETENTION_DAYS:
            raise ValidationError(what="retention_days")
        before = now - retention_days * 86400
    elif before > now - AUDIT_MIN_RETENTION_DAYS * 86400:
        raise ValidationError(what="before")
    last = await ctx.meta.read(sa.audit_prune_end(before))
    if last is None:
        return 0
    return await in_batches(
        ctx, lambda n: sa.prune_audit(key, before, actor_id=actor_id, limit=n, last=last),
        sa.AUDIT_PRUNE_BATCH)


# -- app passwords ------------------------------------------------------------------------------

def new_app_password() -> str:
    """Four groups of four letters: log2(24^16) ~ 73 bits."""
    raw = "".join(secrets.choice(_APP_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def app_password_hash(secret: str) -> str:
    return hashlib.sha256(secret.strip().encode()).hexdigest()


async def do_create_app_password(ctx: ActionContext, key: bytes, account: Account, name: str,
                                 protocols: Sequence[str], *, remote: str = "",
                                 limit: int = 20) -> tuple[str, sa.AppPasswordRow]:
    """A new app password for ``protocols`` (subset of the mail protocols). Returns the secret
    (shown once) and its row."""
    name = name.strip()
    if not 0 < len(name) <= 100:
        raise ValidationError(what="name")
    protos = sorted(set(protocols))
    if not protos or any(p not in APP_PASSWORD_PROTOCOLS for p in protos):
        raise ValidationError(what="protocols")
    existing = await ctx.meta.read(sa.list_app_passwords(account.id))
    if len(existing) >= limit:
        raise ValidationError("security.app_password.too_many", max=limit)
    secret = new_app_password()
    row = await ctx.meta.write(_audited(
        key, sa.insert_app_password(account.id, name, app_password_hash(secret), protos,
                                    int(time.time())),
        category="credential", action="app_password.created", account=account,
        actor_id=account.id, remote=remote, detail={"name": name, "protocols": protos}))
    return secret, row


async def do_delete_app_password(ctx: ActionContext, key: bytes, account: Account, ap_id: int,
                                 *, actor_id: int | None = None, remote: str = "") -> None:
    await ctx.meta.write(_audited(
        key, sa.delete_app_password(account.id, ap_id), category="credential",
        action="app_password.revoked", account=account, actor_id=actor_id, remote=remote,
        detail={"app_password": ap_id}))


# -- TOTP ---------------------------------------------------------------------------------------

_TOTP_PURPOSE = "totp"


async def do_begin_totp(ctx: ActionContext, key: bytes, account: Account, *, issuer: str,
                        remote: str = "") -> tuple[str, str]:
    """Start (or restart) enrolment: a new unconfirmed secret. Returns (secret, otpauth URI).
    An already confirmed factor cannot be replaced this way (disable it first)."""
    row = await ctx.meta.read(sa.totp(account.id))
    if row is not None and row.confirmed:
        raise ValidationError("security.totp.already_enabled")
    secret = totp.new_secret()
    version, sealed = seal_bytes(ctx.keys, account.tenant_id, _TOTP_PURPOSE, secret.encode())
    await ctx.meta.write(_audited(
        key, sa.put_totp(account.id, sealed, version, int(time.time())), category="credential",
        action="totp.enrol_started", account=account, actor_id=account.id, remote=remote))
    return secret, totp.provisioning_uri(secret, account.address, issuer)


async def totp_secret(ctx: ActionContext, account: Account) -> str | None:
    row = await ctx.meta.read(sa.totp(account.id))
    if row is None:
        return None
    return open_sealed(ctx.keys, account.tenant_id, _TOTP_PURPOSE, row.key_version,
                       row.secret_enc).decode()


async def do_confirm_totp(ctx: ActionContext, key: bytes, account: Account, code: str, *,
                          window: int = 1, recovery_count: int = 10, remote: str = ""
                          ) -> list[str]:
    """Confirm enrolment with a first code; returns fresh recovery codes (shown once)."""
    row = await ctx.meta.read(sa.totp(account.id))
    if row is None or row.confirmed:
        raise ValidationError("security.totp.not_pending")
    secret = await totp_secret(ctx, account)
    step = totp.matching_step(secret or "", code, window=window)
    if step is None:
        raise ValidationError("security.totp.bad_code")
    codes = totp.new_recovery_codes(recovery_count)

    def body() -> Op[bool]:
        ok = yield from sa.accept_totp_step(account.id, step, confirm=True)
        if ok:
            yield from sa.replace_recovery_codes(account.id, [totp.recovery_hash(c)
                                                              for c in codes])
        return bool(ok)

    if not await ctx.meta.write(_audited(key, body(), category="credential",
                                         action="totp.enabled", account=account,
                                         actor_id=account.id, remote=remote)):
        raise ValidationError("security.totp.bad_code")
    return codes


async def do_disable_totp(ctx: ActionContext, key: bytes, account: Account, *,
                          actor_id: int | None = None, remote: str = "") -> None:
    await ctx.meta.write(_audited(key, sa.delete_totp(account.id), category="credential",
                                  action="totp.disabled", account=account, actor_id=actor_id,
                                  remote=remote))


async def do_regenerate_recovery_codes(ctx: ActionContext, key: bytes, account: Account, *,
                                       count: int = 10, remote: str = "") -> list[str]:
    row = await ctx.meta.read(sa.totp(account.id))
    if row is None or not row.confirmed:
        raise ValidationError("security.totp.not_enabled")
    codes = totp.new_recovery_codes(count)
    await ctx.meta.write(_audited(
        key, sa.replace_recovery_codes(account.id, [totp.recovery_hash(c) for c in codes]),
        category="credential", action="recovery_codes.regenerated", account=account,
        actor_id=account.id, remote=remote))
    return codes


# -- freezing, sessions -------------------------------------------------------------------------

async def do_freeze_account(ctx: ActionContext, key: bytes, account: Account, *, reason: str,
                            actor_id: int | None = None, remote: str = "") -> list[str]:
    """Freeze: refuse every login and revoke every web session. Returns revoked token
    hashes (so HTTP caches can drop them)."""
    now = int(time.time())

    def body() -> Op[list[str]]:
        yield from sa.set_frozen(account.id, now, reason[:500])
        return (yield from sa.revoke_all_sessions(account.id, wipe=False, now=now))

    revoked: list[str] = await ctx.meta.write(_audited(
        key, body(), category="security", action="account.frozen", account=account,
        actor_id=actor_id, remote=remote, detail={"reason": reason[:500]}))
    credcache.forget(account.id)
    return revoked


async def do_unfreeze_account(ctx: ActionContext, key: bytes, account: Account, *,
                              actor_id: int | None = None, remote: str = "") -> None:
    now = int(time.time())
    await ctx.meta.write(_audited(key, sa.set_frozen(account.id, None, "", now=now),
                                  category="security",
                                  action="account.unfrozen", account=account,
                                  actor_id=actor_id, remote=remote))


async def do_record_session(ctx: ActionContext, token_hash: str, account: Account, *, ip: str,
                            user_agent: str, country: str, method: str) -> None:
    await ctx.meta.write(sa.put_session_info(token_hash, account.id, ip, user_agent, country,
                                             method, int(time.time())))


async def do_touch_session(ctx: ActionContext, token_hash: str, ip: str) -> None:
    await ctx.meta.write(sa.touch_session(token_hash, ip, int(time.time())))


async def do_revoke_session(ctx: ActionContext, key: bytes, account: Account, session_id: int,
                            *, wipe: bool = False, revoke_app_passwords: bool = False,
                            actor_id: int | None = None, remote: str = "") -> str:
    """Remote sign-out of one web session; ``wipe`` makes its next request clear the
    browser's data (``Clear-Site-Data``); ``revoke_app_passwords`` (lost phone) also deletes
    every app password. Returns the revoked token hash."""
    now = int(time.time())

    def body() -> Op[str]:
        h = yield from sa.revoke_session(account.id, session_id, wipe=wipe, now=now)
        if revoke_app_passwords:
            yield from sa.delete_app_passwords(account.id)
        return h

    return str(await ctx.meta.write(_audited(
        key, body(), category="session", action="session.revoked", account=account,
        actor_id=actor_id, remote=remote,
        detail={"session": session_id, "wipe": wipe, "app_passwords": revoke_app_passwords})))


async def do_revoke_other_sessions(ctx: ActionContext, key: bytes, account: Account, *,
                                   keep: str | None, wipe: bool = False, remote: str = ""
                                   ) -> list[str]:
    now = int(time.time())
    out: list[str] = await ctx.meta.write(_audited(
        key, sa.revoke_all_sessions(account.id, wipe=wipe, now=now, keep=keep),
        category="session", action="session.revoked_all", account=account,
        actor_id=account.id, remote=remote, detail={"wipe": wipe}))
    return out


async def do_take_wipe(ctx: ActionContext, token_hash: str) -> bool:
    return bool(await ctx.meta.write(sa.take_wipe(token_hash)))


# -- allowed networks ---------------------------------------------------------------------------

async def do_set_allowed_networks(ctx: ActionContext, key: bytes, tenant_id: int, role: str,
                                  cidrs: Sequence[str], *, actor_id: int | None = None,
                                  remote: str = "") -> list[str]:
    """Replace the CIDR allow-list of a tenant (``role`` '' = every role). An empty list
    removes the restriction."""
    norm = []
    for c in cidrs:
        try:
            norm.append(str(ipaddress.ip_network(c.strip(), strict=False)))
        except ValueError:
            raise ValidationError(what="cidr") from None
    if len(role) > 40:
        raise ValidationError(what="role")

    def body() -> Op[None]:
        yield from sa.set_allowed_networks(tenant_id, role, sorted(set(norm)))
        yield from sa.append_audit(key, category="admin", action="networks.set",
                                   tenant_id=tenant_id, actor_id=actor_id, remote=remote,
                                   outcome="ok", detail={"role": role, "cidrs": norm})

    await ctx.meta.write(body())
    return sorted(set(norm))


async def do_link_identity(ctx: ActionContext, key: bytes, account: Account, provider: str,
                           subject: str, *, remote: str = "") -> None:
    """Link an external identity (``oidc:<issuer>`` + ``sub``) to an account."""
    if not provider or not subject or len(subject) > 255:
        raise ValidationError(what="subject")
    await ctx.meta.write(_audited(
        key, sa.link_identity(provider, subject, account.id, int(time.time())),
        category="credential", action="identity.linked", account=account, remote=remote,
        detail={"provider": provider, "subject": subject}))


# -- passkeys -----------------------------------------------------------------------------------

async def do_add_passkey(ctx: ActionContext, key: bytes, account: Account, new: NewPasskey,
                         name: str, *, remote: str = "") -> sa.PasskeyRow:
    name = name.strip()[:100] or "passkey"
    row: sa.PasskeyRow = await ctx.meta.write(_audited(
        key, sa.insert_passkey(account.id, new.credential_id, new.public_key, new.sign_count,
                               new.transports, name, new.aaguid, int(time.time())),
        category="credential", action="passkey.added", account=account, actor_id=account.id,
        remote=remote, detail={"name": name, "aaguid": new.aaguid}))
    return row


async def do_delete_passkey(ctx: ActionContext, key: bytes, account: Account, pk_id: int, *,
                            remote: str = "") -> None:
    await ctx.meta.write(_audited(key, sa.delete_passkey(account.id, pk_id),
                                  category="credential", action="passkey.removed",
                                  account=account, actor_id=account.id, remote=remote,
                                  detail={"passkey": pk_id}))


async def do_use_passkey(ctx: ActionContext, row: sa.PasskeyRow, new_count: int) -> bool:
    """Advance the signature counter (compare-and-set: a concurrent use of a cloned
    authenticator loses)."""
    return bool(await ctx.meta.write(sa.use_passkey(row.id, row.sign_count, new_count,
                                                    int(time.time()))))


# -- LDAP sync ----------------------------------------------------------------------------------

async def do_sync_ldap(ctx: ActionContext, key: bytes, users: Sequence[LdapUser]
                       ) -> dict[str, int]:
    """Mirror directory users into accounts: create missing accounts (no local password) in
    local domains, link existing ones (their password then comes from the directory), disable
    linked accounts that left the directory and re-enable those that came back."""
    from rongmail.actions import accounts as acc

    now = int(time.time())
    counts = {"created": 0, "linked": 0, "disabled": 0, "enabled": 0, "skipped": 0}
    seen: set[str] = set()
    for u in users:
        seen.add(u.dn.lower())
        acct = await ctx.meta.read(d.get_account_by_address(u.address))
        if acct is None:
            try:
                acct = await acc.do_create_account(ctx, u.address, None,
                                                   display_name=u.display_name[:200],
                                                   check_password=False)
            except MailError:  # not one of our domains, or an invalid address
                counts["skipped"] += 1
                continue
            counts["created"] += 1
        elif acct.disabled and (await ctx.meta.read(
                sa.external_identity(acct.id, "ldap"))) is not None:
            await acc.do_disable_account(ctx, acct.address, disabled=False)
            counts["enabled"] += 1
        linked = await ctx.meta.read(sa.account_for_identity("ldap", u.dn.lower()))
        if linked != acct.id:
            await ctx.meta.write(sa.link_identity("ldap", u.dn.lower(), acct.id, now))
            counts["linked"] += 1
    for subject, account_id in await ctx.meta.read(sa.linked_accounts("ldap")):
        if subject in seen:
            continue
        acct = await ctx.meta.read(d.get_account(account_id))
        if acct is not None and not acct.disabled:
            await acc.do_disable_account(ctx, acct.address)
            counts["disabled"] += 1
    await do_audit(ctx, key, category="admin", action="ldap.synced", detail=counts)
    return counts


# -- the authenticator's write port -------------------------------------------------------------

async def do_purge_login_history(ctx: ActionContext, *, before: int) -> int:
    """Forget login events older than ``before`` and the kinds of login last seen before it
    (``store.sql.auth.purge_login_history``), in batches (``actions.batches``); returns the
    events removed. Run by ``workers.housekeeping`` with the risk window
    (``security.risk.history_days``): older logins are not read by risk scoring."""
    return await in_batches(ctx, lambda n: sa.purge_login_history(before, n), sa.PURGE_BATCH)


class AuthRecorder:
    """``SecurityRecorder`` for the authenticator, plus admin alerts (mail and webhook)."""

    def __init__(self, ctx: ActionContext, key: bytes, *, webhook: str = "",
                 alert_mail: bool = True, on_revoke: Any = None) -> None:
        self.ctx = ctx
        self.key = key
        self.webhook = webhook
        self.alert_mail = alert_mail
        #: called with revoked token hashes (HTTP layer drops its caches)
        self.on_revoke = on_revoke
        self._tasks: set[asyncio.Task[Any]] = set()

    async def audit(self, *, category: str, action: str, outcome: str, account: Account | None,
                    remote: str, detail: dict[str, Any]) -> None:
        await do_audit(self.ctx, self.key, category=category, action=action, outcome=outcome,
                       account=account, actor_id=account.id if account else None,
                       remote=remote, detail=detail)

    async def login_event(self, account: Account, ctx: LoginContext, *, protocol: str,
                          method: str, outcome: str, score: int,
                          audit: LoginAudit | None = None) -> None:
        """Insert the login event; with ``audit``, append its audit entry in the same
        transaction (one write instead of two on every login). A success commits relaxed
        (``durable=False``: in the WAL at once, fsynced with the next durable commit): it is on
        every client's connect path, and as a durable write it made the flag changes queued
        behind it wait for an fsync. Failures and refusals stay durable: they are the record
        of an attack."""
        op: Op[Any] = sa.insert_login_event(
            account.id, ctx.now, ctx.ip, ctx.net, ctx.country, ctx.device, protocol, method,
            outcome, score, ctx.region)
        if audit is not None:
            op = _audited(self.key, op, category="login", action=audit.action,
                          outcome=audit.outcome, account=account, actor_id=account.id,
                          remote=ctx.ip, detail=audit.detail)
        await self.ctx.meta.write(op, durable=outcome != "success")

    async def freeze(self, account: Account, *, reasons: Sequence[str], remote: str) -> None:
        revoked = await do_freeze_account(self.ctx, self.key, account,
                                          reason="risk:" + ",".join(reasons), remote=remote)
        if self.on_revoke is not None:
            self.on_revoke(revoked)
        await self.alert(account, event="account_frozen", remote=remote,
                         detail={"reasons": list(reasons)})

    async def touch_app_password(self, ap_id: int, remote: str) -> None:
        await self.ctx.meta.write(sa.touch_app_password(ap_id, int(time.time()), remote))

    async def totp_secret(self, account: Account) -> str | None:
        row = await self.ctx.meta.read(sa.totp(account.id))
        if row is None or not row.confirmed:
            return None
        return await totp_secret(self.ctx, account)

    async def accept_totp_step(self, account: Account, step: int) -> bool:
        return bool(await self.ctx.meta.write(sa.accept_totp_step(account.id, step)))

    async def use_recovery_code(self, account: Account, code_hash: str) -> bool:
        ok = bool(await self.ctx.meta.write(_audited(
            self.key, sa.use_recovery_code(account.id, code_hash, int(time.time())),
            category="credential", action="recovery_code.used", account=account,
            actor_id=account.id)))
        return ok

    async def alert(self, account: Account, *, event: str, remote: str,
                    detail: dict[str, Any]) -> None:
        """Tell the tenant's admins: an audit entry, a mail to each admin's inbox and a
        webhook POST. Delivery failures are logged, never raised into the login path."""
        payload = {"event": event, "account": account.address, "tenant_id": account.tenant_id,
                   "remote": remote, "at": int(time.time()), "detail": detail}
        await do_audit(self.ctx, self.key, category="security", action=f"alert.{event}",
                       outcome="sent", account=account, remote=remote, detail=detail)
        if self.alert_mail:
            try:
                await self._mail_admins(account, payload)
            except MailError as exc:
                log.warning("security alert mail failed: %s", exc)
        if self.webhook:
            task = asyncio.create_task(self._post_webhook(payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for pending webhook posts (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _mail_admins(self, account: Account, payload: dict[str, Any]) -> None:
        from rongmail.actions.messages import do_append_message

        admins = [a for a in await self.ctx.meta.read(d.list_accounts(tenant_id=account.tenant_id))
                  if a.role in ADMIN_ROLES and not a.disabled]
        for admin in admins:
            inbox = await self.ctx.meta.read(ml.mailbox_by_role(admin.id, "inbox"))
            if inbox is None:
                continue
            loc = admin.locale
            msg = EmailMessage()
            msg["From"] = f"RongMail <postmaster@{admin.address.partition('@')[2]}>"
            msg["To"] = admin.address
            msg["Subject"] = t(f"security.alert.subject.{payload['event']}", loc,
                               account=account.address)
            msg["Date"] = formatdate(localtime=False)
            msg["Message-ID"] = make_msgid(domain=admin.address.partition("@")[2])
            msg["Auto-Submitted"] = "auto-generated"
            msg.set_content(t("security.alert.body", loc, account=account.address,
                              remote=payload["remote"],
                              detail=json.dumps(payload["detail"], ensure_ascii=False)))
            await do_append_message(self.ctx, admin.id, [inbox.id],
                                    msg.as_bytes(policy=SMTP_POLICY))

    async def _post_webhook(self, payload: dict[str, Any]) -> None:
        import aiohttp

        try:
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as s, \
                    s.post(self.webhook, json=payload) as resp:
                if resp.status >= 300:
                    log.warning("security alert webhook answered %d", resp.status)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("security alert webhook failed: %s", exc)


async def account_or_404(ctx: ActionContext, account_id: int) -> Account:
    acct = await ctx.meta.read(d.get_account(account_id))
    if acct is None:
        raise NotFound(what="account")
    return acct
