"""The highest message id ever given, kept on SQLite (fourth core migration: ``03`` + area
``01``).

SQLite gives a new row of an ``INTEGER PRIMARY KEY`` table the highest id in the table + 1 (the
``{pk}`` macro has no ``AUTOINCREMENT``). When the newest message of the whole store was deleted
before the next delivery, the next message got its id, and with it the JMAP Email id that
clients had just seen destroyed. PostgreSQL identities never go back.

* ``id_high``: per name (``message``), the highest id given so far, raised by
  ``store.sql.mail`` just before it deletes messages; the message insert takes the larger of
  it and the table's highest id, + 1. Unused on PostgreSQL.
"""

SQL = """
CREATE TABLE id_high (
  name TEXT PRIMARY KEY,
  value {bigint} NOT NULL
)
"""
