"""The root settings model. One attribute per area; each area's model lives in its own module.

Every field has a description: ``rongmail config-reference`` turns them into
``docs/config-reference.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from rongmail.config.base import Section
from rongmail.config.imap import ImapSettings
from rongmail.config.pop3 import Pop3Settings
from rongmail.config.queue import QueueSettings
from rongmail.config.security import SecuritySettings
from rongmail.config.smtp import SmtpSettings
from rongmail.config.spam import SpamSettings

LISTENER_NAMES = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http",
                  "https", "managesieve")
STANDARD_PORTS = {"smtp": 25, "submission": 587, "submissions": 465, "imap": 143, "imaps": 993,
                  "pop3": 110, "pop3s": 995, "http": 80, "https": 443, "managesieve": 4190}
DEMO_PORTS = {"smtp": 2525, "submission": 2587, "submissions": 2465, "imap": 2143,
              "imaps": 2993, "pop3": 2110, "pop3s": 2995, "http": 8080, "https": 8443,
              "managesieve": 4190}


def _check_hostport(v: str) -> str:
    if v == "":
        return v
    host, sep, port = v.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected \"host:port\" or \"\" (disabled), got {v!r}")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"bad IPv6 literal in {v!r}")
    return v


class Listeners(Section):
    """Where each protocol listens: ``"host:port"``; an empty string disables it."""

    smtp: str = Field("127.0.0.1:2525", description="Inbound SMTP (MX), RFC 5321. Standard port 25.")
    submission: str = Field("127.0.0.1:2587", description="Submission with STARTTLS, RFC 6409. Standard port 587.")
    submissions: str = Field("127.0.0.1:2465", description="Submission over implicit TLS, RFC 8314. Standard port 465.")
    imap: str = Field("127.0.0.1:2143", description="IMAP with STARTTLS, RFC 9051. Standard port 143.")
    imaps: str = Field("127.0.0.1:2993", description="IMAP over implicit TLS. Standard port 993.")
    pop3: str = Field("127.0.0.1:2110", description="POP3 with STLS, RFC 1939. Standard port 110.")
    pop3s: str = Field("127.0.0.1:2995", description="POP3 over implicit TLS. Standard port 995.")
    http: str = Field("127.0.0.1:8080", description="HTTP: webmail, JMAP, admin API, autoconfig.")
    https: str = Field("", description="HTTPS for the same. Standard port 443.")
    managesieve: str = Field("", description="ManageSieve, RFC 5804. Standard port 4190.")

    _v = field_validator(*LISTENER_NAMES)(classmethod(lambda cls, v: _check_hostport(v)))

    def enabled(self) -> dict[str, tuple[str, int]]:
        out = {}
        for name in LISTENER_NAMES:
            v = getattr(self, name)
            if v:
                host, _, port = v.rpartition(":")
                out[name] = (host.strip("[]"), int(port))
        return out


class ServerSettings(Section):
    hostname: str = Field("mail.example.com", description="This server's host name (HELO, banners, Received headers, autoconfig).")
    default_locale: Literal["zh-CN", "en"] = Field("zh-CN", description="Language of server messages when the client does not say.")
    timezone: str = Field("Asia/Shanghai", description="Default time zone for display and reports (times are stored in UTC).")
    workers: int = Field(1, ge=1, le=64, description="Serving processes. 1 = one process (the default). N > 1: the primary process plus N-1 worker processes that share the SMTP (inbound, submission), IMAP and POP3 listening sockets (bound once by the primary and inherited: one accept queue per address, so a new connection goes to whichever process is free to take it) and each open the store; HTTP/JMAP, the outbound queue and the background workers stay in the primary. Each process follows the change log so IMAP IDLE and JMAP push see changes made in any process. Connection limits (smtp.max_connections, limits.max_connections_per_ip, IMAP sessions per user) are counted per process, so the effective node-wide limits are up to N times the configured ones.")
    follow_changes: bool = Field(False, description="Follow the shared change log (publish changes committed by other processes or nodes on this process's bus, for IMAP IDLE and JMAP push). Always on when workers > 1; turn on for several nodes on one PostgreSQL database.")
    follow_interval: float = Field(0.05, gt=0, le=10, description="Seconds between polls of the change log when following it.")
    switch_interval: float = Field(0.001, gt=0, le=0.1, description="Seconds a thread of a serving process may hold Python's interpreter lock while another waits for it (sys.setswitchinterval; Python's default is 0.005). The event loop shares the lock with the store's reader and writer threads: when it lets the lock go for a system call or an SQLite statement, a helper thread may take it and keep it this long before the loop gets it back. Under bench/imap_mixed.py's load 0.001 lowered the short IMAP commands' p99 by about 10% (lower in 4 to 6 of 6 paired runs, by command; bench/README.md, session 12).")


class StorageSettings(Section):
    backend: Literal["sqlite", "postgres"] = Field("sqlite", description="Metadata store: embedded SQLite, or PostgreSQL for several nodes.")
    sqlite_path: str = Field("meta.sqlite3", description="SQLite file, relative to the data directory.")
    sqlite_readers: int = Field(4, ge=1, le=64, description="Reader threads (connections) for SQLite.")
    postgres_dsn: str = Field("postgresql://postgres@127.0.0.1:5432/rongmail", description="PostgreSQL connection string (when backend = postgres).")
    postgres_schema: str = Field("", description="PostgreSQL schema (empty: the default search_path).")
    postgres_pool_max: int = Field(20, ge=1, le=500, description="Largest PostgreSQL connection pool.")
    blob_dir: str = Field("blobs", description="Encrypted message store directory, relative to the data directory.")
    inline_blob_max: int = Field(64 * 1024, ge=0, le=1024 * 1024, description="Messages up to this many bytes that are delivered, appended (IMAP APPEND, JMAP Email/import) or bulk-imported keep their encrypted body in the metadata store, written by the same transaction as the message (one flush per delivery instead of a blob-file flush followed by the commit); larger ones, JMAP blob uploads, the outbound queue and quarantine use blob_dir. 0: every body in blob_dir.")
    change_log_days: int = Field(30, ge=1, le=3650, description="How long the change log keeps each change. It lets IMAP, JMAP and sync clients catch up with what changed while they were away; a client away longer resynchronizes (IMAP lists the mailbox again, JMAP answers cannotCalculateChanges). Pruned hourly.")
    keys_dir: str = Field("keys", description="Directory of the master key (keep it out of backups of the database). The RONGMAIL_MASTER_KEY environment variable overrides it.")


class TlsSettings(Section):
    cert_file: str = Field("tls/cert.pem", description="PEM certificate chain, relative to the data directory. `init` creates a self-signed one.")
    key_file: str = Field("tls/key.pem", description="PEM private key, relative to the data directory.")
    min_version: Literal["TLSv1.2", "TLSv1.3"] = Field("TLSv1.2", description="Lowest TLS version accepted.")


class LimitSettings(Section):
    max_message_bytes: int = Field(50 * 1024 * 1024, ge=1024, description="Largest message accepted by any protocol (SMTP SIZE, IMAP APPENDLIMIT, JMAP maxSizeUpload).")
    max_connections_per_ip: int = Field(50, ge=1, description="Concurrent connections from one IP address, per listener.")
    idle_timeout_seconds: int = Field(600, ge=10, description="Close a connection idle this long (IMAP IDLE sessions are refreshed every 29 minutes, RFC 9051 §6.3.13).")


class Settings(Section):
    """The whole configuration of one RongMail node (``<data-dir>/rongmail.toml``)."""

    server: ServerSettings = Field(default_factory=ServerSettings)  # type: ignore[arg-type]
    listeners: Listeners = Field(default_factory=Listeners)  # type: ignore[arg-type]
    storage: StorageSettings = Field(default_factory=StorageSettings)  # type: ignore[arg-type]
    tls: TlsSettings = Field(default_factory=TlsSettings)  # type: ignore[arg-type]
    limits: LimitSettings = Field(default_factory=LimitSettings)  # type: ignore[arg-type]
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)  # type: ignore[arg-type]
    queue: QueueSettings = Field(default_factory=QueueSettings)  # type: ignore[arg-type]
    pop3: Pop3Settings = Field(default_factory=Pop3Settings)  # type: ignore[arg-type]
    imap: ImapSettings = Field(default_factory=ImapSettings)  # type: ignore[arg-type]
    security: SecuritySettings = Field(default_factory=SecuritySettings)  # type: ignore[arg-type]
    spam: SpamSettings = Field(default_factory=SpamSettings)  # type: ignore[arg-type]
