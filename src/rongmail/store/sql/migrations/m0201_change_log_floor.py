"""How far back each account's change log reaches (third core migration: ``02`` + area ``01``).

``change_log`` drives IMAP's listing deltas, JMAP ``/changes`` and ``/queryChanges`` and the
change follower. Nothing pruned it, so it grew by 15-18 rows per message over its life (a
delivery, a read, a move, an expunge) for as long as the server ran. It is now pruned beyond
``storage.change_log_days`` (``store.sql.mail.prune_changes``).

* ``change_log_floor``: per account, the highest modseq whose log rows have been pruned. A
  state at or above it can still be caught up from the log; an older one cannot (IMAP lists the
  mailbox again, JMAP answers ``cannotCalculateChanges``), even when the account has no row
  left in the log at all. Without a row, nothing of the account was ever pruned.
"""

SQL = """
CREATE TABLE change_log_floor (
  account_id {bigint} PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
  modseq {bigint} NOT NULL
)
"""
