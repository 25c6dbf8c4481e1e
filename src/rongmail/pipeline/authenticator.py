"""The :class:`~rongmail.pipeline.ports.Authenticator` for SMTP AUTH (RFC 4954).

The user name is the account's address. Passwords are checked with argon2id off the event loop
(``services.auth.passwords``); unknown users cost the same time as wrong passwords. Failures are
throttled in memory per (account, client IP) and per client IP: past the limits every attempt is
refused with :class:`~rongmail.errors.RateLimited` until the window passes, whether or not the
password is right, so guessing cannot continue. Passwords are never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from rongmail.core.address import normalize_address
from rongmail.errors import AuthError, RateLimited, ValidationError
from rongmail.pipeline.envelope import AuthIdentity
from rongmail.pipeline.stages.rate_limit import SlidingWindow
from rongmail.services.auth.passwords import verify_password_async
from rongmail.store.reader import Reader

log = logging.getLogger(__name__)


class PasswordAuthenticator:
    def __init__(
        self,
        reader: Reader,
        *,
        failures_per_account: int = 5,
        failures_per_ip: int = 20,
        window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._by_account = SlidingWindow(failures_per_account, window, clock=clock)
        self._by_ip = SlidingWindow(failures_per_ip, window, clock=clock)

    async def authenticate(
        self, username: str, password: str, *, authzid: str, remote_ip: str
    ) -> AuthIdentity:
        try:
            address = normalize_address(username)
        except ValidationError:
            address = username.lower()
        account_key, ip_key = f"{address}|{remote_ip}", remote_ip
        if self._by_account.full(account_key) or self._by_ip.full(ip_key):
            log.warning("AUTH locked out: account=%s ip=%s", address, remote_ip)
            raise RateLimited(detail="authentication lockout")
        account = await self._reader.account_by_address(address)
        ok = await verify_password_async(account.password_hash if account else None, password)
        if authzid and account is not None:
            try:
                ok = ok and normalize_address(authzid) == account.address
            except ValidationError:
                ok = False
        if not ok or account is None or account.disabled:
            self._by_account.hit(account_key)
            self._by_ip.hit(ip_key)
            raise AuthError(detail=f"AUTH failed for {address} from {remote_ip}")
        return AuthIdentity(account.id, account.tenant_id, account.address, username)
