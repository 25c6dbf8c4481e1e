"""Spam filtering state (issue 9): per-tenant settings and models, quarantine, learning log.

* ``spam_settings``: one optional row per tenant; absent = the policy defaults
  (``services.spam.Thresholds``). ``weights`` is a JSON object of per-tag overrides.
* ``spam_model``: the tenant's serialized :class:`~rongmail.services.spam.ContentModel`
  (bounded: ``store.sql.spam.MAX_MODEL_BYTES``), replaced in place on save.
* ``spam_quarantine``: messages held instead of delivered (``direction`` inbound: one row per
  recipient account; outbound: one row per submission, ``account_id`` = the sender). The bytes
  stay in the blob store; ``store.sql.blobs.known``/``unreferenced`` count ``held`` rows
  as references so blob GC never removes a quarantined message (a release creates the message
  or queue row that references it from then on). ``status`` =
  held | released | deleted. ``tags`` is the policy's explanation (JSON list of
  ``{name, detail, score, reason}``) shown to admins and users.
* ``spam_learned``: the last label learned from each user action per message, so a repeated
  move or keyword change does not train the model twice on the same message.
"""

SQL = """
CREATE TABLE spam_settings (
  tenant_id {bigint} PRIMARY KEY REFERENCES tenant(id) ON DELETE CASCADE,
  enabled INTEGER NOT NULL DEFAULT 1,
  junk_score DOUBLE PRECISION NOT NULL DEFAULT 5.0,
  quarantine_score DOUBLE PRECISION NOT NULL DEFAULT 10.0,
  reject_score DOUBLE PRECISION NOT NULL DEFAULT 15.0,
  weights TEXT NOT NULL DEFAULT '{{}}',
  digest INTEGER NOT NULL DEFAULT 1,
  updated_at {bigint} NOT NULL DEFAULT 0
)
;;
CREATE TABLE spam_model (
  tenant_id {bigint} PRIMARY KEY REFERENCES tenant(id) ON DELETE CASCADE,
  data {blob} NOT NULL,
  n_spam {bigint} NOT NULL DEFAULT 0,
  n_ham {bigint} NOT NULL DEFAULT 0,
  updated_at {bigint} NOT NULL
)
;;
CREATE TABLE spam_quarantine (
  id {pk},
  tenant_id {bigint} NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  account_id {bigint} REFERENCES account(id) ON DELETE CASCADE,
  direction TEXT NOT NULL,
  blob_id TEXT NOT NULL,
  size {bigint} NOT NULL,
  mail_from TEXT NOT NULL DEFAULT '',
  rcpts TEXT NOT NULL DEFAULT '[]',
  from_header TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  score DOUBLE PRECISION NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL DEFAULT 'held',
  created_at {bigint} NOT NULL,
  expires_at {bigint} NOT NULL,
  decided_at {bigint},
  decided_by {bigint},
  digested_at {bigint}
)
;;
CREATE INDEX spam_quarantine_tenant ON spam_quarantine (tenant_id, status, created_at)
;;
CREATE INDEX spam_quarantine_account ON spam_quarantine (account_id, status)
;;
CREATE INDEX spam_quarantine_blob ON spam_quarantine (tenant_id, blob_id)
;;
CREATE TABLE spam_learned (
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  message_id {bigint} NOT NULL,
  label TEXT NOT NULL,
  learned_at {bigint} NOT NULL,
  PRIMARY KEY (account_id, message_id)
)
"""
