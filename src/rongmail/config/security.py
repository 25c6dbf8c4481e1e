"""Identity, risk and audit settings (issue 8; ``docs/security.md`` explains each protection).

Root ``Settings.security`` holds one :class:`SecuritySettings`. Thresholds are scores: each risk
signal adds its weight; the sum decides allow / step-up (web) or refuse (IMAP, SMTP, POP3) /
freeze (``rongmail.services.auth.risk``).
"""

from __future__ import annotations

from pydantic import Field

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
    weight_impossible_travel: int = Field(30, ge=0, description="A different country than a successful login less than travel_hours ago.")
    travel_hours: float = Field(4.0, gt=0, description="Window of the impossible-travel signal.")
    weight_failure_burst: int = Field(20, ge=0, description="At least burst_failures failed attempts on the account in the last 15 minutes (any IP).")
    burst_failures: int = Field(5, ge=1, description="Failures that make a burst.")
    weight_unusual_hour: int = Field(10, ge=0, description="A login during quiet hours (server time zone).")
    quiet_hours: tuple[int, int] = Field((1, 6), description="[start, end) hours of the night, in server.timezone; equal values disable the signal.")
    weight_many_accounts_ip: int = Field(30, ge=0, description="The source IP authenticated or failed as at least many_accounts distinct accounts in the last hour.")
    many_accounts: int = Field(5, ge=2, description="Distinct accounts from one IP that make the signal.")
    refuse_without_factor: bool = Field(True, description="Web: when step-up is needed but the account has no second factor, refuse (and alert) instead of allowing.")


class SecuritySettings(Section):
    """Credentials, second factors, sessions, GeoIP and the audit log."""

    legacy_password_protocols: tuple[str, ...] = Field(MAIL_PROTOCOLS, description="Protocols on which the account password works. Accounts with TOTP must use app passwords on protocols that cannot ask for a second factor.")
    app_password_max: int = Field(20, ge=1, le=200, description="App passwords per account.")
    totp_issuer: str = Field("RongMail", description="Issuer name shown in authenticator apps (RFC 6238 key URI).")
    totp_window: int = Field(1, ge=0, le=3, description="Accepted clock drift in 30-second steps each side (RFC 6238 §5.2).")
    recovery_codes: int = Field(10, ge=4, le=20, description="Recovery codes generated with a TOTP enrolment (single use).")
    step_up_ttl_seconds: int = Field(300, ge=30, le=1800, description="Time to answer a step-up challenge.")
    geoip_path: str = Field("geoip/country.mmdb", description="MaxMind-format country database (e.g. the CC0 @ip-location-db/geo-whois-asn-country-mmdb file), relative to the data directory. Missing file: the country signals are off. Never downloaded by the server.")
    audit_key_file: str = Field("keys/audit.key", description="HMAC key of the audit hash chain, relative to the data directory (created on first start; keep it out of database backups). RONGMAIL_AUDIT_KEY overrides it (64 hex digits).")
    audit_retention_days: int = Field(180, ge=180, description="Audit entries younger than this are never pruned (MLPS 2.0 level 3 asks for at least 6 months).")
    alert_webhook: str = Field("", description="URL that receives a JSON POST for each security alert (account frozen, risky login refused); empty disables.")
    alert_mail: bool = Field(True, description="Deliver security alerts to the inboxes of the tenant's admins.")
    risk: RiskSettings = Field(default_factory=RiskSettings)  # type: ignore[arg-type]
