"""JMAP state that the core mail model does not hold (RFC 8620, RFC 8621).

* ``http_token``: bearer tokens (RFC 6750) and web session cookies, stored as SHA-256 of the
  secret (a leaked database does not leak live credentials). ``kind`` = ``bearer`` | ``session``;
  ``csrf`` is the per-session anti-CSRF token the webmail echoes in ``X-CSRF-Token``. The
  identity issue extends this table (app passwords, scopes, device names).
* ``jmap_upload``: which account uploaded which blob (RFC 8620 §6.1) so a download or an
  ``Email/import`` can check access without walking messages.
* ``jmap_identity``: RFC 8621 §6 Identity objects.
* ``jmap_submission``: RFC 8621 §7 EmailSubmission objects; ``undo_status`` = pending | final |
  canceled; ``send_at`` drives send-later (pending rows are sent when due).
* ``jmap_vacation``: RFC 8621 §8 VacationResponse (one row per account).

Writes to ``jmap_identity`` and ``jmap_submission`` bump ``account.modseq`` and log ``Identity``
/ ``EmailSubmission`` changes, like every other write (one state counter per account).
"""

SQL = """
CREATE TABLE http_token (
  id {pk},
  token_hash TEXT NOT NULL UNIQUE,
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  csrf TEXT NOT NULL DEFAULT '',
  created_at {bigint} NOT NULL,
  expires_at {bigint} NOT NULL,
  last_used_at {bigint} NOT NULL DEFAULT 0
)
;;
CREATE INDEX http_token_account ON http_token (account_id)
;;
CREATE TABLE jmap_upload (
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  blob_id TEXT NOT NULL,
  size {bigint} NOT NULL,
  type TEXT NOT NULL,
  created_at {bigint} NOT NULL,
  PRIMARY KEY (account_id, blob_id)
)
;;
CREATE TABLE jmap_identity (
  id {pk},
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL,
  reply_to TEXT,
  bcc TEXT,
  text_signature TEXT NOT NULL DEFAULT '',
  html_signature TEXT NOT NULL DEFAULT '',
  may_delete INTEGER NOT NULL DEFAULT 1
)
;;
CREATE INDEX jmap_identity_account ON jmap_identity (account_id)
;;
CREATE TABLE jmap_submission (
  id {pk},
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  identity_id {bigint} NOT NULL,
  email_id {bigint} NOT NULL,
  thread_id {bigint} NOT NULL,
  envelope TEXT NOT NULL,
  send_at {bigint} NOT NULL,
  undo_status TEXT NOT NULL,
  delivery_status TEXT NOT NULL DEFAULT '{{}}',
  queue_id {bigint},
  blob_id TEXT NOT NULL,
  on_success TEXT NOT NULL DEFAULT '',
  created_at {bigint} NOT NULL
)
;;
CREATE INDEX jmap_submission_account ON jmap_submission (account_id)
;;
CREATE INDEX jmap_submission_due ON jmap_submission (undo_status, send_at)
;;
CREATE TABLE jmap_vacation (
  account_id {bigint} PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
  is_enabled INTEGER NOT NULL DEFAULT 0,
  from_date {bigint},
  to_date {bigint},
  subject TEXT,
  text_body TEXT,
  html_body TEXT
)
"""
