"""Spam filtering: the tenant's correspondents, for first-contact rules (issue 9).

``spam_contact`` has one row per (tenant, address) and one per (tenant, ``@domain``): how many
messages the tenant's users *sent* to it (queued submissions, SMTP and JMAP) and how many clean
inbound messages from it were *received* into an Inbox, with the first and last time. The
pipeline's spam stage reads the sender's two rows by primary key
(``store.sql.spam.contact_counts``) to decide whether mail is a first contact
(``PAYMENT_CHANGE_FIRST_TIME``). Rows are only ever upserted (``note_contacts``); the table is
bounded by the tenant's real correspondents. Number 0105: spam's second migration (ARCHITECTURE.md numbering rule).
"""

SQL = """
CREATE TABLE spam_contact (
  tenant_id {bigint} NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  sent {bigint} NOT NULL DEFAULT 0,
  received {bigint} NOT NULL DEFAULT 0,
  first_at {bigint} NOT NULL,
  last_at {bigint} NOT NULL,
  PRIMARY KEY (tenant_id, address)
)
"""
