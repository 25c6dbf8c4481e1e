"""Fixtures for the identity layer: an Authenticator wired like ``app.py`` (recorder, audit
key, offline GeoIP) over the storage stack, and a small country database made with
``mmdb-writer`` (loopback addresses stand for countries: no traffic leaves 127.0.0.0/8)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from authgeo import write_country_mmdb


@dataclass
class SecEnv:
    ctx: Any
    reader: Any
    auth: Any
    recorder: Any
    key: bytes
    user: Any
    admin: Any
    tenant: Any


@pytest.fixture
async def sec(stack: Any, tmp_path: Path) -> SecEnv:
    from rongmail.actions import accounts as acc
    from rongmail.actions.auth import AuthRecorder
    from rongmail.config.security import RiskSettings, SecuritySettings
    from rongmail.services.auth.authenticate import Authenticator, SecurityDeps, ThrottlePolicy
    from rongmail.services.auth.geoip import GeoIp

    key = secrets.token_bytes(32)
    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    user = await acc.do_create_account(stack.ctx, "li@demo.test", "Li-pass-2026-x")
    admin = await acc.do_create_account(stack.ctx, "boss@demo.test", "Boss-pass-2026-x",
                                        role="tenant_admin")
    settings = SecuritySettings(risk=RiskSettings(quiet_hours=(0, 0)))
    recorder = AuthRecorder(stack.ctx, key)
    geo = GeoIp(write_country_mmdb(tmp_path / "country.mmdb"))
    auth = Authenticator(stack.reader, ThrottlePolicy(lock_after=5, base_delay=60),
                         security=SecurityDeps(settings, recorder, geo, "Asia/Shanghai"))
    return SecEnv(stack.ctx, stack.reader, auth, recorder, key, user, admin, t)
