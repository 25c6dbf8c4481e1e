"""Identity and audit state (issue 8). See ``docs/security.md``.

* ``audit_log``: the security audit trail, append-only and hash-chained (``core/auditchain.py``).
  ``seq`` is contiguous from ``audit_head.base_seq``; ``prev``/``digest`` are keyed HMAC-SHA256
  hex digests. No code path updates or deletes a row except :func:`store.sql.auth.prune_audit`,
  which removes entries older than the retention period and records the new chain base in a
  chained entry of its own.
* ``audit_head``: one row (id = 1): the last ``seq`` and ``digest`` (appends lock it, so two
  writers can never fork the chain) and the chain base after pruning.
* ``app_password``: per-protocol passwords for mail clients; only SHA-256 of the (random,
  >= 100-bit) secret is stored. ``protocols`` is a comma-separated subset of the auth protocols.
* ``totp_secret``: RFC 6238 secrets sealed (AES-256-GCM) under the tenant data key;
  ``last_step`` is the last accepted time step (a code is never accepted twice, RFC 6238 §5.2).
* ``recovery_code``: SHA-256 of single-use recovery codes (>= 80-bit random).
* ``login_event``: recent authentication outcomes per account (signals for risk scoring).
* ``account_security``: frozen state (risk engine or admin) per account; ``reset_at`` is the
  last unfreeze (bursts and country hopping before it no longer count).
* ``session_info``: device, IP, client and last-seen of web sessions (``http_token`` rows).
* ``session_wipe``: sessions signed out with "wipe": the next request with that cookie gets
  ``Clear-Site-Data``.
* ``allowed_network``: CIDR allow-lists per tenant, optionally per role ('' = every role).
* ``webauthn_credential``: passkeys (WebAuthn L2 §6.1 credential records): id (base64url),
  COSE public key, signature counter (clone detection, §6.1.1), transports.
* ``external_identity``: accounts whose password lives elsewhere: ``provider`` = ``ldap`` (subject
  = the entry DN) or ``oidc:<issuer>`` (subject = the ``sub`` claim).
"""

SQL = """
CREATE TABLE audit_log (
  seq {bigint} PRIMARY KEY,
  at {bigint} NOT NULL,
  tenant_id {bigint},
  account_id {bigint},
  actor_id {bigint},
  category TEXT NOT NULL,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL DEFAULT '',
  remote TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '{{}}',
  prev TEXT NOT NULL,
  digest TEXT NOT NULL
)
;;
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq)
;;
CREATE INDEX audit_log_at ON audit_log (at)
;;
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY,
  seq {bigint} NOT NULL,
  digest TEXT NOT NULL,
  base_seq {bigint} NOT NULL,
  base_prev TEXT NOT NULL
)
;;
INSERT INTO audit_head (id, seq, digest, base_seq, base_prev)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 1,
        '0000000000000000000000000000000000000000000000000000000000000000')
;;
CREATE TABLE app_password (
  id {pk},
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  protocols TEXT NOT NULL,
  created_at {bigint} NOT NULL,
  last_used_at {bigint} NOT NULL DEFAULT 0,
  last_ip TEXT NOT NULL DEFAULT ''
)
;;
CREATE INDEX app_password_account ON app_password (account_id)
;;
CREATE TABLE totp_secret (
  account_id {bigint} PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
  secret_enc {blob} NOT NULL,
  key_version INTEGER NOT NULL,
  confirmed INTEGER NOT NULL DEFAULT 0,
  last_step {bigint} NOT NULL DEFAULT 0,
  created_at {bigint} NOT NULL
)
;;
CREATE TABLE recovery_code (
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used_at {bigint},
  PRIMARY KEY (account_id, code_hash)
)
;;
CREATE TABLE login_event (
  id {pk},
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  at {bigint} NOT NULL,
  ip TEXT NOT NULL,
  net TEXT NOT NULL,
  country TEXT NOT NULL DEFAULT '',
  device TEXT NOT NULL DEFAULT '',
  protocol TEXT NOT NULL,
  method TEXT NOT NULL,
  outcome TEXT NOT NULL,
  score INTEGER NOT NULL DEFAULT 0
)
;;
CREATE INDEX login_event_account ON login_event (account_id, at)
;;
CREATE INDEX login_event_ip ON login_event (ip, at)
;;
CREATE TABLE account_security (
  account_id {bigint} PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
  frozen_at {bigint},
  frozen_reason TEXT NOT NULL DEFAULT '',
  reset_at {bigint} NOT NULL DEFAULT 0
)
;;
CREATE TABLE session_info (
  token_hash TEXT PRIMARY KEY,
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  ip TEXT NOT NULL DEFAULT '',
  user_agent TEXT NOT NULL DEFAULT '',
  country TEXT NOT NULL DEFAULT '',
  method TEXT NOT NULL DEFAULT '',
  created_at {bigint} NOT NULL,
  last_seen {bigint} NOT NULL
)
;;
CREATE INDEX session_info_account ON session_info (account_id)
;;
CREATE TABLE session_wipe (
  token_hash TEXT PRIMARY KEY,
  account_id {bigint} NOT NULL,
  at {bigint} NOT NULL
)
;;
CREATE TABLE allowed_network (
  tenant_id {bigint} NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  role TEXT NOT NULL DEFAULT '',
  cidr TEXT NOT NULL,
  PRIMARY KEY (tenant_id, role, cidr)
)
;;
CREATE TABLE external_identity (
  provider TEXT NOT NULL,
  subject TEXT NOT NULL,
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  synced_at {bigint} NOT NULL,
  PRIMARY KEY (provider, subject)
)
;;
CREATE INDEX external_identity_account ON external_identity (account_id)
;;
CREATE TABLE webauthn_credential (
  id {pk},
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  credential_id TEXT NOT NULL UNIQUE,
  public_key {blob} NOT NULL,
  sign_count {bigint} NOT NULL DEFAULT 0,
  transports TEXT NOT NULL DEFAULT '',
  name TEXT NOT NULL DEFAULT '',
  aaguid TEXT NOT NULL DEFAULT '',
  created_at {bigint} NOT NULL,
  last_used_at {bigint} NOT NULL DEFAULT 0
)
;;
CREATE INDEX webauthn_credential_account ON webauthn_credential (account_id)
"""
