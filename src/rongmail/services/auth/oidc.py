"""OpenID Connect relying party (OpenID Connect Core 1.0; OAuth 2.0 RFC 6749 with PKCE, RFC 7636).

Flow: :meth:`OidcClient.begin` makes a random ``state``, ``nonce`` and PKCE ``code_verifier``
(S256) and the authorization URL; the caller keeps them server-side, bound to the browser by a
cookie. :meth:`OidcClient.finish` exchanges the code at the token endpoint (client_secret_basic)
with the verifier, then validates the ID token with authlib: signature against the provider's
JWKS, ``iss`` equal to the configured issuer, ``aud`` containing our client id, ``exp``/``iat``
(60 s leeway) and ``nonce`` equal to ours (OIDC Core §3.1.3.7). Only then are the claims
returned, completed from the UserInfo endpoint when the ID token carries no e-mail. Provider metadata and keys are fetched on first use and cached; an unknown ``kid``
refreshes the JWKS once (key rotation). The client secret, codes and tokens are never logged.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from rongmail.config.security import OidcSettings
from rongmail.errors import AuthError, TemporaryError


@dataclass(frozen=True, slots=True)
class PendingLogin:
    state: str
    nonce: str
    verifier: str
    binding: str  # random value also held in the browser's cookie
    created: float


class OidcClient:
    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._meta: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None

    @property
    def provider_key(self) -> str:
        return "oidc:" + self.settings.issuer.rstrip("/")

    def _http(self) -> Any:
        import httpx

        return httpx.AsyncClient(timeout=self.settings.timeout_seconds, follow_redirects=False)

    async def metadata(self) -> dict[str, Any]:
        if self._meta is None:
            import httpx

            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                async with self._http() as c:
                    r = await c.get(url)
                    r.raise_for_status()
                    meta = r.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise TemporaryError(detail=f"oidc discovery: {type(exc).__name__}") from None
            if meta.get("issuer", "").rstrip("/") != self.settings.issuer.rstrip("/"):
                raise TemporaryError(detail="oidc discovery: issuer mismatch")
            self._meta = meta
        return self._meta

    async def _keys(self, *, refresh: bool = False) -> dict[str, Any]:
        if self._jwks is None or refresh:
            import httpx

            meta = await self.metadata()
            try:
                async with self._http() as c:
                    r = await c.get(meta["jwks_uri"])
                    r.raise_for_status()
                    self._jwks = r.json()
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                raise TemporaryError(detail=f"oidc jwks: {type(exc).__name__}") from None
        return self._jwks

    async def _with_userinfo(self, claims: dict[str, Any], token: dict[str, Any]
                             ) -> dict[str, Any]:
        """Providers may put ``email`` only in the UserInfo response (OIDC Core §5.4); its
        ``sub`` must equal the ID token's (§5.3.4) or the response is ignored."""
        if "email" in claims or "userinfo_endpoint" not in (meta := await self.metadata()):
            return claims
        import httpx

        try:
            async with self._http() as c:
                r = await c.get(meta["userinfo_endpoint"],
                                headers={"Authorization": f"Bearer {token['access_token']}"})
                r.raise_for_status()
                info = r.json()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise TemporaryError(detail=f"oidc userinfo: {type(exc).__name__}") from None
        if not isinstance(info, dict) or info.get("sub") != claims.get("sub"):
            return claims
        return {**{k: v for k, v in info.items() if k in ("email", "email_verified", "name")},
                **claims}

    async def begin(self) -> tuple[str, PendingLogin]:
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        meta = await self.metadata()
        s = self.settings
        pending = PendingLogin(secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                               secrets.token_urlsafe(48), secrets.token_urlsafe(24),
                               time.monotonic())
        client = AsyncOAuth2Client(s.client_id, s.client_secret, scope=s.scopes,
                                   redirect_uri=s.redirect_uri, code_challenge_method="S256")
        url, _ = client.create_authorization_url(meta["authorization_endpoint"],
                                                 state=pending.state, nonce=pending.nonce,
                                                 code_verifier=pending.verifier)
        return url, pending

    async def finish(self, code: str, pending: PendingLogin) -> dict[str, Any]:
        """Exchange the code and return the validated ID token claims."""
        from authlib.integrations.base_client.errors import OAuthError
        from authlib.integrations.httpx_client import AsyncOAuth2Client
        from authlib.jose import JsonWebKey, jwt
        from authlib.jose.errors import JoseError

        meta = await self.metadata()
        s = self.settings
        client = AsyncOAuth2Client(s.client_id, s.client_secret, scope=s.scopes,
                                   redirect_uri=s.redirect_uri, code_challenge_method="S256",
                                   timeout=s.timeout_seconds)
        try:
            token = await client.fetch_token(meta["token_endpoint"], code=code,
                                             code_verifier=pending.verifier)
        except (OAuthError, ValueError) as exc:
            raise AuthError(detail=f"oidc token: {type(exc).__name__}") from None
        except Exception as exc:  # httpx transport errors
            raise TemporaryError(detail=f"oidc token: {type(exc).__name__}") from None
        finally:
            await client.aclose()
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise AuthError(detail="oidc: no id_token")
        options = {"iss": {"essential": True, "value": meta["issuer"]},
                   "aud": {"essential": True, "value": s.client_id},
                   "sub": {"essential": True},
                   "exp": {"essential": True},
                   "nonce": {"essential": True, "value": pending.nonce}}
        for attempt in (0, 1):
            try:
                keys = JsonWebKey.import_key_set(await self._keys(refresh=attempt == 1))
                claims = jwt.decode(id_token, keys, claims_options=options)
                claims.validate(leeway=60)
                return await self._with_userinfo(dict(claims), token)
            except JoseError as exc:
                if attempt == 1 or "kid" not in str(exc).lower() and "key" not in str(exc):
                    raise AuthError(detail=f"oidc id_token: {type(exc).__name__}") from None
            except ValueError:
                if attempt == 1:
                    raise AuthError(detail="oidc id_token: unreadable") from None
        raise AuthError(detail="oidc id_token")
