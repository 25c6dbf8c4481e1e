"""The SMTP :class:`~rongmail.pipeline.ports.Authenticator`, over the one authentication port
every protocol uses (``services.auth.authenticate.Authenticator``).

That service verifies the password (argon2id, off the event loop, equal timing for unknown
users) and throttles failures per (account, IP) and per IP; this adapter only maps its result
to an :class:`~rongmail.pipeline.envelope.AuthIdentity` and enforces the SASL authorization
identity: a PLAIN ``authzid`` (RFC 4616 §2) other than the authenticated account is refused,
since SMTP has no "act as another user" right. A bearer token (OAUTHBEARER / XOAUTH2) is
valid only for the account it was issued to; the service checks the name the client gave.
"""

from __future__ import annotations

from rongmail.core.address import normalize_address
from rongmail.errors import AuthError, ValidationError
from rongmail.pipeline.envelope import AuthIdentity
from rongmail.services.auth.authenticate import Authenticator


class SmtpAuthenticator:
    def __init__(self, authenticator: Authenticator) -> None:
        self._auth = authenticator

    async def authenticate(
        self, username: str, password: str, *, authzid: str, remote_ip: str
    ) -> AuthIdentity:
        result = await self._auth.authenticate(
            username, password, protocol="smtp", remote_ip=remote_ip
        )
        account = result.account
        if authzid:
            try:
                same = normalize_address(authzid) == account.address
            except ValidationError:
                same = False
            if not same:
                raise AuthError(detail=f"authzid {authzid!r} refused for {account.address}")
        return AuthIdentity(account.id, account.tenant_id, account.address, username)

    async def authenticate_bearer(
        self, token: str, *, username: str, remote_ip: str
    ) -> AuthIdentity:
        result = await self._auth.authenticate_bearer(
            token, username=username, protocol="smtp", remote_ip=remote_ip
        )
        account = result.account
        return AuthIdentity(
            account.id, account.tenant_id, account.address, username or account.address
        )
