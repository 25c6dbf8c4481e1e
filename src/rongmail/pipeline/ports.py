"""What the SMTP front end and the pipeline need from the rest of RongMail.

These are the narrow seams ``app.py`` fills with real adapters (``pipeline/directory.py`` over
``store.reader``, ``pipeline/delivery.py`` over ``actions``) and tests fill with fakes.
"""

from __future__ import annotations

from typing import Protocol

from rongmail.pipeline.envelope import AuthIdentity, Envelope, Resolution
from rongmail.pipeline.stage import Verdict


class Directory(Protocol):
    async def resolve(self, address: str) -> Resolution:
        """Resolve a recipient: accounts, aliases, groups, shared mailboxes, plus-addressing
        (``user+tag@``) and the domain's catch-all; REMOTE when the domain is not ours."""
        ...

    async def may_send_as(self, identity: AuthIdentity, address: str) -> bool:
        """True when ``identity`` owns or is delegated ``address`` (submission, RFC 6409 §8)."""
        ...


class Authenticator(Protocol):
    async def authenticate(
        self, username: str, password: str, *, authzid: str, remote_ip: str
    ) -> AuthIdentity:
        """Verify credentials; raise ``AuthError`` (wrong), ``RateLimited`` (locked out) or a
        temporary ``MailError``. Implementations slow down and lock out per account and IP."""
        ...

    async def authenticate_bearer(
        self, token: str, *, username: str, remote_ip: str
    ) -> AuthIdentity:
        """Verify an OAuth bearer token (SASL OAUTHBEARER / XOAUTH2) for ``username`` (the
        token's own account when empty); raises like :meth:`authenticate`."""
        ...


class Delivery(Protocol):
    async def deliver(self, env: Envelope, verdict: Verdict) -> str:
        """Commit ``env.message`` for every recipient in ``env.rcpts``: local recipients into
        their Inbox (or Junk when ``verdict.action`` is JUNK) in one write, remote recipients
        into the outbound queue. Return an id for the 250 reply only after the commit is
        durable; raise a ``MailError`` otherwise (the client then keeps the message)."""
        ...
