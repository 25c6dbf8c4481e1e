"""Outbound queue: one row per queued message, one per recipient with its own delivery state,
and the MTA-STS policy cache (RFC 8461 §5 asks senders to keep policies across restarts).

``queue_recipient.state``: ``queued`` (never tried), ``deferred`` (temporary failure, retried at
``next_attempt_at``), ``delivered``, ``failed`` (permanent, or lifetime exceeded). While an
attempt runs, ``next_attempt_at`` is pushed forward by a lease so a crashed node's work comes
back by itself. ``held`` on the message stops all its recipients until released.
"""

SQL = """
CREATE TABLE queue_message (
  id {pk},
  tenant_id {bigint} NOT NULL,
  blob_id TEXT NOT NULL,
  size {bigint} NOT NULL,
  mail_from TEXT NOT NULL,
  envid TEXT,
  ret TEXT,
  smtputf8 INTEGER NOT NULL DEFAULT 0,
  body_8bit INTEGER NOT NULL DEFAULT 0,
  source TEXT NOT NULL DEFAULT '',
  account_id {bigint},
  prepend {blob},
  held INTEGER NOT NULL DEFAULT 0,
  created_at {bigint} NOT NULL,
  expires_at {bigint} NOT NULL
)
;;
CREATE TABLE queue_recipient (
  id {pk},
  message_id {bigint} NOT NULL REFERENCES queue_message(id) ON DELETE CASCADE,
  rcpt TEXT NOT NULL,
  domain TEXT NOT NULL,
  orcpt TEXT,
  notify TEXT,
  role TEXT NOT NULL DEFAULT 'inbox',
  state TEXT NOT NULL DEFAULT 'queued',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at {bigint} NOT NULL,
  last_attempt_at {bigint},
  last_code INTEGER,
  last_status TEXT,
  last_reply TEXT,
  remote_host TEXT,
  delay_notified INTEGER NOT NULL DEFAULT 0,
  dsn_sent INTEGER NOT NULL DEFAULT 0,
  updated_at {bigint} NOT NULL
)
;;
CREATE INDEX queue_recipient_due ON queue_recipient(state, next_attempt_at)
;;
CREATE INDEX queue_recipient_message ON queue_recipient(message_id)
;;
CREATE TABLE mta_sts_policy (
  domain TEXT PRIMARY KEY,
  policy_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  mx TEXT NOT NULL,
  max_age {bigint} NOT NULL,
  fetched_at {bigint} NOT NULL
)
"""
