"""Pure parts of administration: invariants of the role table, scope decisions, and parsing
of bulk import files (CSV in UTF-8 / GB18030, .xlsx) into per-row results."""

from __future__ import annotations

import io

import pytest

from rongmail.errors import ValidationError
from rongmail.services.admin import bulk_import, features
from rongmail.services.admin.roles import (
    ASSIGNABLE,
    GUARDED,
    ROLE_PERMS,
    AdminPrincipal,
    Perm,
    Role,
    Target,
    allowed,
    may_assign,
)


def p(role: Role, tenant: int = 1, domains: frozenset[int] = frozenset()) -> AdminPrincipal:
    return AdminPrincipal(1, "a@x.test", role, tenant, domains)


def test_role_table_invariants() -> None:
    assert ROLE_PERMS[Role.USER] == frozenset()
    assert ROLE_PERMS[Role.SUPER_ADMIN] == frozenset(Perm)
    only_super = {Perm.TENANT_CREATE, Perm.TENANT_LIMITS, Perm.SENSITIVE_WRITE}
    for role, perms in ROLE_PERMS.items():
        if role is not Role.SUPER_ADMIN:
            assert not perms & only_super, role
    # no mail access for helpdesk and auditor, no writes at all for the auditor
    mail = {Perm.MAIL_DELEGATE, Perm.MAIL_SEARCH}
    assert not ROLE_PERMS[Role.HELPDESK] & mail and not ROLE_PERMS[Role.AUDITOR] & mail
    writes = {x for x in Perm if x.value.split(".")[1] not in ("read",)}
    assert not ROLE_PERMS[Role.AUDITOR] & writes
    # a role can only hand out roles whose permissions it holds itself (no escalation)
    for giver, roles in ASSIGNABLE.items():
        for r in roles:
            assert ROLE_PERMS[r] <= ROLE_PERMS[giver], (giver, r)


def test_legacy_admin_is_super_and_unknown_is_user() -> None:
    assert Role.parse("admin") is Role.SUPER_ADMIN
    assert Role.parse("root") is Role.USER


def test_scopes() -> None:
    ta = p(Role.TENANT_ADMIN)
    assert allowed(ta, Perm.USER_WRITE, Target(1, 5))
    assert not allowed(ta, Perm.USER_WRITE, Target(2, 9))  # other tenant
    da = p(Role.DOMAIN_ADMIN, domains=frozenset({5}))
    assert allowed(da, Perm.USER_WRITE, Target(1, 5))
    assert not allowed(da, Perm.USER_WRITE, Target(1, 6))
    assert not allowed(da, Perm.POLICY_WRITE, Target(1))
    for perm in GUARDED:
        assert not allowed(ta, perm, Target(1, 5, sensitive=True))
        assert allowed(p(Role.SUPER_ADMIN, tenant=99), perm, Target(1, 5, sensitive=True))
    assert may_assign(ta, Role.HELPDESK) and not may_assign(ta, Role.SUPER_ADMIN)
    assert not may_assign(p(Role.HELPDESK), Role.USER)


def test_features_closed_set() -> None:
    assert features.effective({"archiving": True})["archiving"] is True
    assert features.effective({})["smart_relay"] is False
    with pytest.raises(ValidationError):
        features.validate({"archiving": "yes"})
    with pytest.raises(ValidationError):
        features.validate({"warp": True})


def test_csv_rows_and_problems() -> None:
    rows = bulk_import.parse_csv(
        b"\xef\xbb\xbfEmail,Name,Quota\n"
        b"a@x.test,A,10\n"
        b",,\n"
        b",NoAddr,1\n"
        b"b@x.test,B,-1\n")
    assert [(r.line, r.address, r.problem) for r in rows] == [
        (2, "a@x.test", ""), (4, "", "admin.import.no_address"),
        (5, "b@x.test", "admin.import.bad_quota")]
    assert rows[0].quota_mb == 10 and rows[0].display_name == "A"
    with pytest.raises(ValidationError) as e:
        bulk_import.parse_csv(b"name,password\nx,y\n")
    assert e.value.key == "admin.import.no_address_column"


def test_xlsx_and_gb18030() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["address", "display_name", "quota_mb"])
    ws.append(["c@x.test", "C", 2048.0])
    buf = io.BytesIO()
    wb.save(buf)
    rows = bulk_import.parse_upload("users.xlsx", buf.getvalue())
    assert rows[0].address == "c@x.test" and rows[0].quota_mb == 2048
    gb = "\u90ae\u7bb1,\u59d3\u540d\nd@x.test,\u5f20\u4e09\n".encode("gb18030")
    rows = bulk_import.parse_upload("hr.csv", gb)
    assert rows[0].display_name == "\u5f20\u4e09"
    with pytest.raises(ValidationError):
        bulk_import.parse_upload("x.xlsx", b"PK not really")
