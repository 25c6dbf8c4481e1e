"""The ``[spam]`` settings as the live stage uses them (issue 9): config defaults vs tenant rows,
per-zone DNSBL weights and tags, scanner failure policy (fail open / 451), first contact."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from pydantic import ValidationError as PydanticError

from rongmail.actions.spam import SPAM_HEADER, do_note_received_from, do_set_spam_settings
from rongmail.config.spam import BlocklistZone, SpamSettings
from rongmail.errors import ConfigError
from rongmail.pipeline.envelope import Client, Listener
from rongmail.pipeline.stage import Action, Checkpoint
from rongmail.pipeline.stages.spam import SpamStage, blocklists
from rongmail.services.spam import Policy, Thresholds
from rongmail.services.spam.context import ScannerUnavailable
from rongmail.services.spam.tags import tag

from .conftest import World
from .samples import _msg, ham, spam

PAYMENT = (
    "Please note our bank account has changed. Kindly update the bank details in your "
    "records and remit the outstanding invoice to our new account."
)


class Listed:
    """A resolver where 127.0.0.2 is listed in every zone asked."""

    async def a(self, name: str) -> list[str]:
        return ["127.0.0.2"] if name.startswith("2.0.0.127.") else []


class DownScanner:
    async def scan(self, data: bytes) -> str | None:
        raise ScannerUnavailable("clamd: connection refused")


def _header(v: object) -> str:
    return dict(v.headers)[SPAM_HEADER]  # type: ignore[attr-defined]


def test_settings_validation() -> None:
    s = SpamSettings.model_validate(
        {
            "dnsbl": [{"zone": "Zen.Spamhaus.org.", "weight": 6, "codes": ["127.0.0.2"]}],
            "clamd": {"address": "tcp:127.0.0.1:3310"},
        }
    )
    assert s.dnsbl[0].zone == "zen.spamhaus.org" and s.dnsbl == (
        BlocklistZone(zone="zen.spamhaus.org", weight=6, codes=("127.0.0.2",)),
    )
    assert s.scanner_failure == "accept" and s.dnsbl and not s.uribl
    assert SpamSettings().dnsbl == () and SpamSettings().uribl == ()  # no network by default
    for bad in (
        {"clamd": {"address": "/run/clamd.ctl"}},
        {"rspamd": {"url": "localhost"}},
        {"junk_score": 12.0},
        {"dnsbl": [{"zone": "bad zone"}]},
        {"dnsbl": [{"zone": "bl.test", "codes": ["x"]}]},
        {"scanner_failure": "drop"},
        {"dns_nameservers": ["resolver.example"]},
    ):
        with pytest.raises(PydanticError):
            SpamSettings.model_validate(bad)
    with pytest.raises(ConfigError):
        blocklists((BlocklistZone(zone="bl.test", tag="NO_SUCH_TAG"),), "RBL_LISTED")


async def test_zone_weights_and_tenant_override(world: World) -> None:
    zones = blocklists(
        (
            BlocklistZone(zone="strong.test", weight=6.0),
            BlocklistZone(zone="weak.test", weight=0.5),
        ),
        "RBL_LISTED",
    )
    env = dataclasses.replace(world.inbound(ham()), client=Client("127.0.0.2", 1, Listener.MX))
    stage = SpamStage(
        world.ctx.meta, world.models, resolver=Listed(), dnsbl_zones=zones, cache_ttl=0
    )
    v = await stage.check(Checkpoint.DATA, env)
    assert "RBL_LISTED(+6.0)" in _header(v) and "RBL_LISTED(+0.5)" in _header(v)
    assert v.action is Action.JUNK  # 6.5 >= 5
    # a tenant's own weight for the tag wins over the configured per-zone weights
    await do_set_spam_settings(
        world.ctx, world.tenant_id, thresholds=Thresholds(), weights={"RBL_LISTED": 1.0}
    )
    v = await stage.check(Checkpoint.DATA, env)
    assert _header(v).count("RBL_LISTED(+1.0)") == 2 and v.action is Action.ACCEPT
    assert Policy().tag_weight(tag("RBL_LISTED", "x", 2.5)) == 2.5


async def test_config_thresholds_are_defaults_only(world: World) -> None:
    lenient = SpamStage(
        world.ctx.meta, world.models, cache_ttl=0, thresholds=Thresholds(50, 60, 70)
    )
    assert (await lenient.check(Checkpoint.DATA, world.inbound(spam()))).action is Action.ACCEPT
    off = SpamStage(world.ctx.meta, world.models, cache_ttl=0, enabled=False)
    assert (await off.check(Checkpoint.DATA, world.inbound(spam()))).headers == ()
    # a tenant row overrides both
    await do_set_spam_settings(world.ctx, world.tenant_id, thresholds=Thresholds())
    assert (await lenient.check(Checkpoint.DATA, world.inbound(spam()))).action is Action.JUNK
    assert (await off.check(Checkpoint.DATA, world.inbound(spam()))).action is Action.JUNK


async def test_scanner_failure_policy(world: World) -> None:
    fail_open = SpamStage(world.ctx.meta, world.models, virus_scanner=DownScanner())
    tempfail = SpamStage(
        world.ctx.meta, world.models, virus_scanner=DownScanner(), scanner_failure="tempfail"
    )
    # the scanner is asked about payloads; a message with an attachment reaches it
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@files.example", "user@acme-corp.cn", "file"
    m.set_content("see attached")
    m.add_attachment(b"data", maintype="application", subtype="octet-stream", filename="a.bin")
    with_file = m.as_bytes(policy=SMTP)
    v = await fail_open.check(Checkpoint.DATA, world.inbound(with_file))
    assert v.action is Action.ACCEPT and "SCANNER_UNAVAILABLE(+0.0)" in _header(v)
    v = await tempfail.check(Checkpoint.DATA, world.inbound(with_file))
    assert v.action is Action.TEMPFAIL
    assert v.reasons[0].code == "spam.scanner_unavailable"
    assert "connection refused" in v.reasons[0].detail


async def test_payment_change_first_time_vs_known(world: World) -> None:
    stage = SpamStage(world.ctx.meta, world.models)
    new = _msg("finance@new-vendor.example", "user@acme-corp.cn", "bank details", PAYMENT)
    v = await stage.check(Checkpoint.DATA, world.inbound(new))
    assert "PAYMENT_CHANGE_FIRST_TIME(" in _header(v) and "spam.quarantine" in v.tags
    await do_note_received_from(world.ctx, world.tenant_id, "finance@new-vendor.example")
    v = await stage.check(Checkpoint.DATA, world.inbound(new))
    assert "PAYMENT_CHANGE_REQUEST(" in _header(v) and "FIRST_TIME" not in _header(v)
    assert "spam.quarantine" not in v.tags
    # first-contact lookups can be switched off: then nobody is a first contact
    other = _msg("finance@other-vendor.example", "user@acme-corp.cn", "bank", PAYMENT)
    off = SpamStage(world.ctx.meta, world.models, first_contact=False)
    assert "FIRST_TIME" not in _header(await off.check(Checkpoint.DATA, world.inbound(other)))


async def test_known_senders_are_remembered_first_contacts_are_not(world: World) -> None:
    contact_reads: list[str] = []
    meta = world.ctx.meta

    class Counting:
        dialect = meta.dialect

        async def read(self, op: Any, **kw: Any) -> Any:
            if getattr(op, "gi_code", None) is not None and op.gi_code.co_name == "contact_counts":
                contact_reads.append(op.gi_code.co_name)
            return await meta.read(op, **kw)

        async def write(self, op: Any, *, durable: bool = True) -> Any:
            return await meta.write(op, durable=durable)

        async def close(self) -> None: ...

    stage = SpamStage(Counting(), world.models)
    new = _msg("ap@fresh-vendor.example", "user@acme-corp.cn", "bank details", PAYMENT)
    for expected_reads in (1, 2):  # a first contact is read again every time
        v = await stage.check(Checkpoint.DATA, world.inbound(new))
        assert "PAYMENT_CHANGE_FIRST_TIME(" in _header(v)
        assert len(contact_reads) == expected_reads
    await do_note_received_from(world.ctx, world.tenant_id, "ap@fresh-vendor.example")
    for _ in range(3):  # known: read once, then remembered
        v = await stage.check(Checkpoint.DATA, world.inbound(new))
        assert "FIRST_TIME" not in _header(v)
    assert len(contact_reads) == 3
    expired = SpamStage(Counting(), world.models, known_ttl=0)
    for _ in range(2):
        await expired.check(Checkpoint.DATA, world.inbound(new))
    assert len(contact_reads) == 5
