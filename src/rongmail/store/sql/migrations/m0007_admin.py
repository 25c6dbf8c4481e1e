"""Admin console and DNS wizard state (issue 7).

* ``admin_scope``: the domains a ``domain_admin`` manages (one row per domain). Roles themselves
  live in ``account.role`` (``super_admin`` | ``tenant_admin`` | ``domain_admin`` | ``helpdesk``
  | ``auditor`` | ``user``; the legacy ``admin`` means ``super_admin``).
* ``sensitive_group``: groups (``alias`` rows of kind ``group``) whose members' mailboxes no
  ordinary admin may delegate or search (finance, HR). Membership is resolved at check time, so
  adding someone to the group protects them at once.
* ``password_policy``: one row per tenant; absent means the built-in defaults.
* ``dkim_key``: per-domain signing keys; the private key is AES-256-GCM encrypted under the
  tenant data key (``key_version``), never stored in clear. ``state`` = active | retiring.
* ``dns_provider``: provider API credentials per domain, encrypted like DKIM keys.
* ``dns_wizard``: the wizard's inputs per domain (mail hosts, relays, DMARC stage, MTA-STS
  mode and policy id) as JSON; the plan is recomputed from it and the DKIM keys on every view.
* ``dns_owned``: records the wizard created (name, type, canonical rdata text), so a later push
  deletes only its own stale values, never a record someone else made (see ``dnswizard.push``).
* ``admin_audit``: append-only log of admin actions (who, what, on which object, when); written
  in the same transaction as the change it records.
"""

SQL = """
CREATE TABLE admin_scope (
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  domain_id {bigint} NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
  PRIMARY KEY (account_id, domain_id)
)
;;
CREATE TABLE sensitive_group (
  alias_id {bigint} PRIMARY KEY REFERENCES alias(id) ON DELETE CASCADE,
  tenant_id {bigint} NOT NULL,
  label TEXT NOT NULL DEFAULT '',
  created_at {bigint} NOT NULL
)
;;
CREATE TABLE password_policy (
  tenant_id {bigint} PRIMARY KEY REFERENCES tenant(id) ON DELETE CASCADE,
  min_length INTEGER NOT NULL,
  min_classes INTEGER NOT NULL,
  max_age_days INTEGER NOT NULL,
  history INTEGER NOT NULL,
  updated_at {bigint} NOT NULL
)
;;
CREATE TABLE dkim_key (
  id {pk},
  domain_id {bigint} NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
  selector TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  public_txt TEXT NOT NULL,
  private_enc {blob} NOT NULL,
  key_version INTEGER NOT NULL,
  state TEXT NOT NULL,
  created_at {bigint} NOT NULL,
  retire_at {bigint},
  UNIQUE (domain_id, selector)
)
;;
CREATE TABLE dns_provider (
  domain_id {bigint} PRIMARY KEY REFERENCES domain(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  endpoint TEXT NOT NULL DEFAULT '',
  credentials_enc {blob} NOT NULL,
  key_version INTEGER NOT NULL,
  updated_at {bigint} NOT NULL
)
;;
CREATE TABLE dns_wizard (
  domain_id {bigint} PRIMARY KEY REFERENCES domain(id) ON DELETE CASCADE,
  input TEXT NOT NULL,
  updated_at {bigint} NOT NULL
)
;;
CREATE TABLE dns_owned (
  domain_id {bigint} NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  rtype TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at {bigint} NOT NULL,
  PRIMARY KEY (domain_id, name, rtype, value)
)
;;
CREATE TABLE admin_audit (
  id {pk},
  at {bigint} NOT NULL,
  actor_id {bigint},
  tenant_id {bigint},
  action TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '{{}}',
  remote TEXT NOT NULL DEFAULT ''
)
;;
CREATE INDEX admin_audit_tenant ON admin_audit (tenant_id, id)
"""
