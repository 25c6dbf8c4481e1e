"""LDAP / Active Directory as a password authority and a user source (ldap3, RFC 4511).

* **Bind check** (:meth:`LdapDirectory.check_password`): find the user's entry with the service
  account (``bind_dn``) and a filter built from the address (escaped, RFC 4515 §3), then bind as
  that DN with the password on a fresh connection. An empty password is refused before any
  network traffic: RFC 4513 §5.1.2 makes it an *unauthenticated* bind that many servers accept.
* **Sync** (:meth:`LdapDirectory.users`): the entries matching ``sync_filter`` (paged, RFC 2696)
  as (DN, address, display name); ``actions.auth.do_sync_ldap`` mirrors them into accounts.

Passwords travel only over TLS (``ldaps://`` or StartTLS) unless ``start_tls`` is turned off for
a loopback directory. ldap3 is synchronous: callers run these methods in a worker thread
(:meth:`check_password_async`). Passwords are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass

from rongmail.config.security import LdapSettings
from rongmail.errors import TemporaryError

log = logging.getLogger("rongmail.auth.ldap")


@dataclass(frozen=True, slots=True)
class LdapUser:
    dn: str
    address: str
    display_name: str


class LdapDirectory:
    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings

    def _server(self) -> object:
        import ldap3

        s = self.settings
        tls = None
        if s.url.startswith("ldaps://") or s.start_tls:
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=s.ca_file or None,
                            version=ssl.PROTOCOL_TLS_CLIENT)
        return ldap3.Server(s.url, connect_timeout=s.timeout_seconds, tls=tls,
                            get_info=ldap3.NONE)

    def _connect(self, dn: str | None, password: str | None) -> object:
        import ldap3
        from ldap3.core.exceptions import LDAPException

        s = self.settings
        try:
            conn = ldap3.Connection(self._server(), user=dn or None, password=password or None,
                                    receive_timeout=max(1, int(s.timeout_seconds)), raise_exceptions=False,
                                    auto_bind=ldap3.AUTO_BIND_NONE, read_only=True)
            conn.open()
            if s.start_tls and not s.url.startswith("ldaps://"):
                conn.start_tls()
        except LDAPException as exc:
            raise TemporaryError(detail=f"ldap connect: {type(exc).__name__}") from None
        return conn

    def _search_conn(self) -> object:
        s = self.settings
        conn = self._connect(s.bind_dn, s.bind_password)
        if not conn.bind():  # type: ignore[attr-defined]
            raise TemporaryError(detail="ldap service bind refused")
        return conn

    def _entry(self, entry: object) -> LdapUser | None:
        s = self.settings
        attrs = entry.get("attributes", {}) if isinstance(entry, dict) else {}
        mail = _first(attrs.get(s.mail_attribute))
        if not mail:
            return None
        return LdapUser(str(entry["dn"]), mail.lower(),  # type: ignore[index]
                        _first(attrs.get(s.name_attribute)) or "")

    def find_user(self, address: str) -> LdapUser | None:
        import ldap3
        from ldap3.utils.conv import escape_filter_chars

        s = self.settings
        conn = self._search_conn()
        try:
            flt = s.user_filter.replace("{address}", escape_filter_chars(address))
            conn.search(s.base_dn, flt, search_scope=ldap3.SUBTREE,  # type: ignore[attr-defined]
                        attributes=[s.mail_attribute, s.name_attribute], size_limit=2)
            entries = [e for e in conn.response  # type: ignore[attr-defined]
                       if e.get("type") == "searchResEntry"]
        finally:
            conn.unbind()  # type: ignore[attr-defined]
        if len(entries) != 1:  # none, or ambiguous: never guess which entry to bind as
            return None
        return self._entry(entries[0])

    def check_password(self, address: str, password: str) -> LdapUser | None:
        """The user's entry when ``password`` binds as it, else None."""
        if not password:
            return None
        user = self.find_user(address)
        if user is None:
            return None
        conn = self._connect(user.dn, password)
        try:
            ok = bool(conn.bind())  # type: ignore[attr-defined]
        finally:
            conn.unbind()  # type: ignore[attr-defined]
        return user if ok else None

    async def check_password_async(self, address: str, password: str) -> LdapUser | None:
        return await asyncio.to_thread(self.check_password, address, password)

    def users(self) -> list[LdapUser]:
        import ldap3

        s = self.settings
        conn = self._search_conn()
        try:
            gen = conn.extend.standard.paged_search(  # type: ignore[attr-defined]
                s.base_dn, s.sync_filter, search_scope=ldap3.SUBTREE,
                attributes=[s.mail_attribute, s.name_attribute], paged_size=500,
                generator=True)
            out = [u for e in gen if e.get("type") == "searchResEntry"
                   for u in [self._entry(e)] if u is not None]
        finally:
            conn.unbind()  # type: ignore[attr-defined]
        return out

    async def users_async(self) -> list[LdapUser]:
        return await asyncio.to_thread(self.users)


def _first(v: object) -> str:
    if isinstance(v, list):
        v = v[0] if v else ""
    return v if isinstance(v, str) else ""
