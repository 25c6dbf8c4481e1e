"""Core schema: tenants, keys, domains, accounts, aliases, ACLs, mailboxes, messages, the change
log and the full-text index. See ARCHITECTURE.md "The mail model"."""

SQL = """
CREATE TABLE tenant (
  id {pk},
  name TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL DEFAULT '',
  quota_bytes {bigint} NOT NULL DEFAULT 0,
  max_accounts INTEGER NOT NULL DEFAULT 0,
  features TEXT NOT NULL DEFAULT '{{}}',
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at {bigint} NOT NULL
)
;;
CREATE TABLE tenant_key (
  tenant_id {bigint} NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  wrapped {blob} NOT NULL,
  master_id TEXT NOT NULL,
  created_at {bigint} NOT NULL,
  PRIMARY KEY (tenant_id, version)
)
;;
CREATE TABLE domain (
  id {pk},
  tenant_id {bigint} NOT NULL REFERENCES tenant(id),
  name TEXT NOT NULL UNIQUE,
  alias_of {bigint} REFERENCES domain(id),
  catch_all TEXT,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at {bigint} NOT NULL
)
;;
CREATE TABLE account (
  id {pk},
  tenant_id {bigint} NOT NULL REFERENCES tenant(id),
  domain_id {bigint} NOT NULL REFERENCES domain(id),
  address TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL DEFAULT 'user',
  role TEXT NOT NULL DEFAULT 'user',
  password_hash TEXT,
  quota_bytes {bigint} NOT NULL DEFAULT 0,
  used_bytes {bigint} NOT NULL DEFAULT 0,
  disabled INTEGER NOT NULL DEFAULT 0,
  modseq {bigint} NOT NULL DEFAULT 1,
  locale TEXT NOT NULL DEFAULT 'zh-CN',
  timezone TEXT NOT NULL DEFAULT 'Asia/Shanghai',
  created_at {bigint} NOT NULL
)
;;
CREATE INDEX account_domain ON account(domain_id)
;;
CREATE TABLE alias (
  id {pk},
  tenant_id {bigint} NOT NULL REFERENCES tenant(id),
  domain_id {bigint} NOT NULL REFERENCES domain(id),
  address TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL DEFAULT 'alias',
  display_name TEXT NOT NULL DEFAULT '',
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at {bigint} NOT NULL
)
;;
CREATE TABLE alias_member (
  alias_id {bigint} NOT NULL REFERENCES alias(id) ON DELETE CASCADE,
  member TEXT NOT NULL,
  PRIMARY KEY (alias_id, member)
)
;;
CREATE TABLE acl (
  owner_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  mailbox_id {bigint} NOT NULL DEFAULT 0,
  grantee_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  rights TEXT NOT NULL,
  PRIMARY KEY (owner_id, mailbox_id, grantee_id)
)
;;
CREATE INDEX acl_grantee ON acl(grantee_id)
;;
CREATE TABLE mailbox (
  id {pk},
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  parent_id {bigint} NOT NULL DEFAULT 0,
  name TEXT NOT NULL,
  role TEXT,
  uidvalidity {bigint} NOT NULL,
  uidnext {bigint} NOT NULL DEFAULT 1,
  highestmodseq {bigint} NOT NULL DEFAULT 1,
  subscribed INTEGER NOT NULL DEFAULT 1,
  sort_order INTEGER NOT NULL DEFAULT 0,
  created_at {bigint} NOT NULL
)
;;
CREATE UNIQUE INDEX mailbox_name ON mailbox(account_id, parent_id, name)
;;
CREATE UNIQUE INDEX mailbox_role ON mailbox(account_id, role) WHERE role IS NOT NULL
;;
CREATE TABLE thread (
  id {pk},
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE
)
;;
CREATE TABLE message (
  id {pk},
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  thread_id {bigint} NOT NULL,
  blob_id TEXT NOT NULL,
  size {bigint} NOT NULL,
  received_at {bigint} NOT NULL,
  sent_at {bigint},
  flags INTEGER NOT NULL DEFAULT 0,
  keywords TEXT NOT NULL DEFAULT '',
  modseq {bigint} NOT NULL,
  created_modseq {bigint} NOT NULL,
  msgid TEXT,
  in_reply_to TEXT NOT NULL DEFAULT '',
  refs TEXT NOT NULL DEFAULT '',
  base_subject TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  from_addr TEXT NOT NULL DEFAULT '[]',
  to_addr TEXT NOT NULL DEFAULT '[]',
  cc_addr TEXT NOT NULL DEFAULT '[]',
  bcc_addr TEXT NOT NULL DEFAULT '[]',
  reply_to TEXT NOT NULL DEFAULT '[]',
  sender TEXT NOT NULL DEFAULT '[]',
  preview TEXT NOT NULL DEFAULT '',
  has_attachment INTEGER NOT NULL DEFAULT 0,
  header_size {bigint} NOT NULL DEFAULT 0,
  bodystructure TEXT NOT NULL DEFAULT '{{}}',
  envelope TEXT NOT NULL DEFAULT '{{}}'
)
;;
CREATE INDEX message_thread ON message(account_id, thread_id)
;;
CREATE INDEX message_msgid ON message(account_id, msgid)
;;
CREATE INDEX message_subject ON message(account_id, base_subject)
;;
CREATE INDEX message_irt ON message(account_id, in_reply_to)
;;
CREATE INDEX message_received ON message(account_id, received_at)
;;
CREATE INDEX message_blob ON message(blob_id)
;;
CREATE TABLE mailbox_message (
  mailbox_id {bigint} NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
  uid {bigint} NOT NULL,
  message_id {bigint} NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  modseq {bigint} NOT NULL,
  received_at {bigint} NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
)
;;
CREATE INDEX mm_message ON mailbox_message(message_id)
;;
CREATE INDEX mm_received ON mailbox_message(mailbox_id, received_at)
;;
CREATE TABLE change_log (
  id {pk},
  account_id {bigint} NOT NULL,
  modseq {bigint} NOT NULL,
  type TEXT NOT NULL,
  action TEXT NOT NULL,
  object_id {bigint} NOT NULL,
  mailbox_id {bigint},
  uid {bigint},
  created_at {bigint} NOT NULL
)
;;
CREATE INDEX change_account ON change_log(account_id, modseq)
;;
CREATE TABLE blob_ref (
  tenant_id {bigint} NOT NULL,
  blob_id TEXT NOT NULL,
  size {bigint} NOT NULL,
  refs {bigint} NOT NULL DEFAULT 0,
  created_at {bigint} NOT NULL,
  PRIMARY KEY (tenant_id, blob_id)
)
"""

SQLITE = """
CREATE VIRTUAL TABLE search_fts USING fts5(
  subject, from_, to_, cc, bcc, body, attachments,
  content='', contentless_delete=1, tokenize='ascii'
)
"""

POSTGRES = """
CREATE TABLE search_chunk (
  message_id BIGINT NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  account_id BIGINT NOT NULL,
  field TEXT NOT NULL,
  tsv TSVECTOR NOT NULL
)
;;
CREATE INDEX search_chunk_tsv ON search_chunk USING GIN (tsv)
;;
CREATE INDEX search_chunk_message ON search_chunk(message_id)
"""
