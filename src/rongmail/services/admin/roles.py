"""Admin roles, permissions and scopes: one pure decision function, :func:`authorize`.

Roles (stored in ``account.role``):

* ``super_admin`` — everything, every tenant (the legacy value ``admin`` means this);
* ``tenant_admin`` — everything inside its own tenant except creating tenants, changing the
  tenant's commercial limits (quotas, feature menu) and marking sensitive groups;
* ``domain_admin`` — users, aliases, groups and DNS of the domains in its scope
  (``admin_scope``; its own domain when the scope is empty);
* ``helpdesk`` — reads users and resets passwords in its tenant; no mail access at all;
* ``auditor`` — reads the admin audit log, the mail-flow (queue) log and the password policy
  of its tenant; never mail content, never a write;
* ``user`` — no admin access.

Sensitive groups (finance, HR): the mailboxes of their members cannot be delegated, searched, or
taken over by a password reset by anyone but a super admin (:data:`GUARDED`).

Invariants: the permission table is closed (an unknown role has no permission); a decision
needs the target's tenant (and domain when there is one) — callers resolve them from the
store before asking, never from the request; a denial raises
:class:`~rongmail.errors.PermissionDenied` with a catalogue key, never a reason that leaks
whether the object exists in another tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from rongmail.errors import PermissionDenied


class Role(StrEnum):
    SUPER_ADMIN = "super_admin"
    TENANT_ADMIN = "tenant_admin"
    DOMAIN_ADMIN = "domain_admin"
    HELPDESK = "helpdesk"
    AUDITOR = "auditor"
    USER = "user"

    @classmethod
    def parse(cls, value: str) -> Role:
        if value == "admin":  # before roles existed, "admin" ran the whole server
            return cls.SUPER_ADMIN
        try:
            return cls(value)
        except ValueError:
            return cls.USER


class Perm(StrEnum):
    TENANT_CREATE = "tenant.create"
    TENANT_READ = "tenant.read"
    TENANT_LIMITS = "tenant.limits"  # quotas and the feature menu
    POLICY_READ = "policy.read"
    POLICY_WRITE = "policy.write"
    DOMAIN_READ = "domain.read"
    DOMAIN_WRITE = "domain.write"
    DNS_READ = "dns.read"
    DNS_PUSH = "dns.push"
    USER_READ = "user.read"
    USER_WRITE = "user.write"
    USER_PASSWORD = "user.password"
    USER_IMPORT = "user.import"
    ALIAS_READ = "alias.read"
    ALIAS_WRITE = "alias.write"
    ROLE_WRITE = "role.write"
    SENSITIVE_WRITE = "sensitive.write"
    MAIL_DELEGATE = "mail.delegate"
    MAIL_SEARCH = "mail.search"
    QUEUE_READ = "queue.read"
    QUEUE_WRITE = "queue.write"
    AUDIT_READ = "audit.read"


_DIRECTORY = frozenset({
    Perm.DOMAIN_READ, Perm.DNS_READ, Perm.DNS_PUSH, Perm.USER_READ, Perm.USER_WRITE,
    Perm.USER_PASSWORD, Perm.USER_IMPORT, Perm.ALIAS_READ, Perm.ALIAS_WRITE,
    Perm.MAIL_DELEGATE, Perm.MAIL_SEARCH, Perm.POLICY_READ, Perm.TENANT_READ,
})

ROLE_PERMS: Mapping[Role, frozenset[Perm]] = {
    Role.SUPER_ADMIN: frozenset(Perm),
    Role.TENANT_ADMIN: _DIRECTORY | {
        Perm.DOMAIN_WRITE, Perm.POLICY_WRITE, Perm.ROLE_WRITE, Perm.QUEUE_READ,
        Perm.QUEUE_WRITE, Perm.AUDIT_READ},
    Role.DOMAIN_ADMIN: _DIRECTORY,
    Role.HELPDESK: frozenset({Perm.TENANT_READ, Perm.DOMAIN_READ, Perm.USER_READ,
                              Perm.USER_PASSWORD, Perm.ALIAS_READ, Perm.POLICY_READ}),
    Role.AUDITOR: frozenset({Perm.TENANT_READ, Perm.DOMAIN_READ, Perm.POLICY_READ,
                             Perm.AUDIT_READ, Perm.QUEUE_READ}),
    Role.USER: frozenset(),
}

#: actions on a sensitive group member's mailbox that only a super admin may take
GUARDED = frozenset({Perm.MAIL_DELEGATE, Perm.MAIL_SEARCH, Perm.USER_PASSWORD})

#: roles each role may hand out (inside its own tenant)
ASSIGNABLE: Mapping[Role, frozenset[Role]] = {
    Role.SUPER_ADMIN: frozenset(Role),
    Role.TENANT_ADMIN: frozenset({Role.TENANT_ADMIN, Role.DOMAIN_ADMIN, Role.HELPDESK,
                                  Role.AUDITOR, Role.USER}),
}


@dataclass(frozen=True, slots=True)
class AdminPrincipal:
    account_id: int
    address: str
    role: Role
    tenant_id: int
    #: the domains a domain admin manages (resolved from admin_scope or its own domain)
    domain_ids: frozenset[int] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role is not Role.USER

    def perms(self) -> frozenset[Perm]:
        return ROLE_PERMS.get(self.role, frozenset())


@dataclass(frozen=True, slots=True)
class Target:
    """What an action touches, as resolved from the store. ``tenant_id`` None = server-wide."""

    tenant_id: int | None = None
    domain_id: int | None = None
    #: the target account is a member of a sensitive group
    sensitive: bool = False


SERVER = Target()


def allowed(p: AdminPrincipal, perm: Perm, target: Target = SERVER) -> bool:
    if perm not in p.perms():
        return False
    if p.role is Role.SUPER_ADMIN:
        return True
    if target.sensitive and perm in GUARDED:
        return False
    if target.tenant_id is None:
        # server-wide objects (the tenant list, the whole queue) are a super admin's; other
        # roles see the tenant-scoped slice the endpoint filters for them
        return perm in _TENANT_SLICED
    if target.tenant_id != p.tenant_id:
        return False
    if p.role is Role.DOMAIN_ADMIN:
        if target.domain_id is None:
            return perm in (Perm.TENANT_READ, Perm.POLICY_READ, Perm.DOMAIN_READ)
        return target.domain_id in p.domain_ids
    return True


#: list endpoints that every holder of the permission may call; results are filtered by scope
_TENANT_SLICED = frozenset({Perm.TENANT_READ, Perm.DOMAIN_READ, Perm.USER_READ,
                            Perm.ALIAS_READ, Perm.QUEUE_READ, Perm.AUDIT_READ})


def authorize(p: AdminPrincipal, perm: Perm, target: Target = SERVER) -> None:
    """Raise PermissionDenied unless ``p`` may ``perm`` on ``target``."""
    if not allowed(p, perm, target):
        raise PermissionDenied("admin.forbidden", detail=f"{p.role}:{perm}")


def may_assign(p: AdminPrincipal, role: Role) -> bool:
    return role in ASSIGNABLE.get(p.role, frozenset())
