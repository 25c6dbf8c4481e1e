"""Vacation auto-replies actually sent (RFC 8621 §8, RFC 3834 §2): the JMAP area's second
migration (``01`` + area ``04``).

``jmap_vacation_reply`` holds one row per (account, envelope sender) the account's
VacationResponse has answered: ``fingerprint`` identifies the VacationResponse settings the
reply was made under (a hash of ``jmap_vacation``'s row) and ``replied_at`` when (unix seconds).
A sender gets at most one reply per period (``store.sql.vacation.claim_reply``); a row whose
fingerprint differs from the current settings (the user changed the VacationResponse) or that
is older than the period no longer counts and is deleted by the next claim of that account, so
the table stays bounded by each account's recent correspondents.
"""

SQL = """
CREATE TABLE jmap_vacation_reply (
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  sender TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  replied_at {bigint} NOT NULL,
  PRIMARY KEY (account_id, sender)
)
"""
