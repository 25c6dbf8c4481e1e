"""Password history (issue 8, third auth-area migration: ``02`` + area ``06``). See
``docs/security.md`` section 1.

* ``password_history``: the argon2id hashes (RFC 9106) of an account's *previous* passwords,
  newest ``id`` last. ``store.sql.directory.set_password_hash`` moves the hash being replaced
  here in the same transaction as the update and keeps at most ``PASSWORD_HISTORY_KEEP`` rows
  per account (the largest history a tenant policy may ask for), so raising a tenant's
  ``history`` later takes effect with what is already kept. The current password stays in
  ``account.password_hash``. Rows go with the account (``ON DELETE CASCADE``).
"""

SQL = """
CREATE TABLE password_history (
  id {pk},
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  password_hash TEXT NOT NULL,
  replaced_at {bigint} NOT NULL
)
;;
CREATE INDEX password_history_account ON password_history (account_id, id)
"""
