"""Login events by client IP and account (fourth auth-area migration: ``03`` + area ``06``).

Risk scoring asks, on every login, how many accounts logged in from the client's IP in the
last hour (``store.sql.auth.accounts_from_ip``). With the index on ``(ip, at)`` that meant
reading every login from that IP in the hour: for an office behind one NAT address, or a
client that re-logs in often, thousands of rows per login. The index on
``(ip, account_id, at)`` lets the query visit each account once (a loose index scan) and
check its latest time with one more seek; it replaces ``login_event_ip``, whose only user was
that query.
"""

SQL = """
DROP INDEX IF EXISTS login_event_ip
;;
CREATE INDEX login_event_ip_account ON login_event (ip, account_id, at)
"""
