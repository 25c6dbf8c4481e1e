"""The DNS wizard's stored inputs per domain, validated, and the plan built from them.

:class:`WizardInput` is what the admin edits (mail hosts and sites, relays, the DMARC stage,
MTA-STS mode); it is stored as JSON (``dns_wizard``). :func:`plan_for` turns it plus the domain's
DKIM keys into ``dnswizard.plan.PlanInput``. Invariant: the MTA-STS policy id is part of the
stored input, so the same input always yields the same records (a push is idempotent); it
changes only when the policy itself (hosts or mode) changes (RFC 8461 §3.1).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rongmail.errors import ValidationError as RmValidationError
from rongmail.services.dnswizard.plan import DkimSelector, MailHost, PlanInput
from rongmail.store.sql.admin import DkimKeyRow


class HostInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=253)
    ipv4: tuple[str, ...] = ()
    ipv6: tuple[str, ...] = ()
    site: str = Field("main", max_length=32)

    @field_validator("ipv4")
    @classmethod
    def _v4(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(ipaddress.IPv4Address(x)) for x in v)

    @field_validator("ipv6")
    @classmethod
    def _v6(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(ipaddress.IPv6Address(x)) for x in v)


class WizardInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    hosts: tuple[HostInput, ...] = ()
    relays_ip4: tuple[str, ...] = ()
    relays_ip6: tuple[str, ...] = ()
    relay_includes: tuple[str, ...] = ()
    dmarc_stage: Literal["none", "quarantine", "reject"] = "none"
    dmarc_pct: int = Field(100, ge=1, le=100)
    report_mailbox: str = ""
    mta_sts_mode: Literal["testing", "enforce", "none"] = "testing"
    mta_sts_id: str = ""
    caa_issuers: tuple[str, ...] = ("letsencrypt.org",)
    ttl: int = Field(3600, ge=60, le=86400)


def parse_input(data: dict[str, Any]) -> WizardInput:
    try:
        return WizardInput.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        raise RmValidationError(what=".".join(str(x) for x in first["loc"])) from None


def with_policy_id(new: WizardInput, old: WizardInput | None) -> WizardInput:
    """Keep the MTA-STS id while the policy is unchanged; a new id when it changes."""
    same = old is not None and old.mta_sts_id and old.hosts == new.hosts \
        and old.mta_sts_mode == new.mta_sts_mode
    pid = old.mta_sts_id if same and old is not None else \
        time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return new.model_copy(update={"mta_sts_id": pid})


def plan_for(domain: str, wiz: WizardInput | None, dkim: Sequence[DkimKeyRow], *,
             default_host: str) -> PlanInput:
    w = wiz or WizardInput(mta_sts_id="19700101000000")
    hosts = tuple(MailHost(h.name, h.ipv4, h.ipv6, h.site) for h in w.hosts) or (
        MailHost(default_host),)
    return PlanInput(
        domain=domain, hosts=hosts,
        dkim=tuple(DkimSelector(k.selector, k.public_txt, k.state == "retiring") for k in dkim),
        relays_ip4=w.relays_ip4, relays_ip6=w.relays_ip6, relay_includes=w.relay_includes,
        dmarc_stage=w.dmarc_stage, dmarc_pct=w.dmarc_pct, report_mailbox=w.report_mailbox,
        mta_sts_mode=w.mta_sts_mode, mta_sts_id=w.mta_sts_id or "19700101000000",
        caa_issuers=w.caa_issuers, ttl=w.ttl)
