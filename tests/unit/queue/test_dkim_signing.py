"""Outgoing mail is DKIM-signed with every active key of its author domain (RSA-2048 and
Ed25519 together), and the signatures verify against the published records."""

from __future__ import annotations

import pytest

from rongmail.actions import accounts as acc
from rongmail.queue.signing import DomainSigner, author_domain
from rongmail.services.dns.memory import MemoryTransport
from rongmail.services.dns.resolver import DnsResolver
from rongmail.services.mailauth.dkim import verify_dkim


def test_author_domain() -> None:
    assert author_domain(b"Subject: x\r\nFrom: =?UTF-8?B?5byg?= <Zhang@Corp.Test>\r\n\r\nb") == \
        "corp.test"
    assert author_domain(b"From:\r\n undisclosed\r\n\r\n") is None
    assert author_domain(b"To: a@b.test\r\n\r\n") is None


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_signs_with_active_keys_only(stack) -> None:  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "corp")
    dom = await acc.do_create_domain(stack.ctx, t.id, "corp.test")
    dns = MemoryTransport()
    from rongmail.actions.admin import Actor, do_create_dkim_key

    actor = Actor(None, t.id)
    old = await do_create_dkim_key(stack.ctx, actor, dom, "rsa")
    r1 = await do_create_dkim_key(stack.ctx, actor, dom, "rsa")  # rotation: old -> retiring
    e1 = await do_create_dkim_key(stack.ctx, actor, dom, "ed25519")
    for k in (old, r1, e1):
        dns.add(f"{k.selector}._domainkey.corp.test", "TXT", k.public_txt)
    msg = (b"From: Li <li@corp.test>\r\nTo: x@remote.test\r\nSubject: hello\r\n"
           b"Message-ID: <1@corp.test>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0800\r\n\r\nbody\r\n")
    signed = await DomainSigner(stack.ctx).sign(msg)
    assert signed.endswith(msg) and signed.count(b"DKIM-Signature:") == 2
    results = await verify_dkim(DnsResolver(dns), signed)
    assert sorted((r.selector, r.result) for r in results) == sorted(
        [(e1.selector, "pass"), (r1.selector, "pass")])
    # not our domain: untouched
    other = msg.replace(b"li@corp.test", b"li@elsewhere.test")
    assert await DomainSigner(stack.ctx).sign(other) == other
