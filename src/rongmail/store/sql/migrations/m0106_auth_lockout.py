"""Durable brute-force throttling and password age (issue 8, second auth-area migration:
``01`` + area ``06``). See ``docs/security.md`` sections 1 and 5.

* ``auth_throttle``: failed-login counters, the truth behind ``services.auth.authenticate``'s
  throttling (shared by every node on PostgreSQL, kept across restarts). One row per
  (``login``, ``source``): ``login`` is the lower-cased login name as typed (it may name no
  account) and ``source`` the client's IPv4 address or IPv6 /64. The row with ``login = ''`` is
  the per-source block (password spraying). ``failures`` restarts at 1 when the previous failure
  is older than the policy's forget time; ``blocked_until`` (unix seconds, 0 = not blocked) is
  set by the service from the failure count. A successful login deletes its pair row; stale
  rows are purged by ``store.sql.lockout.purge``.
* ``password_state``: when the account password was last set (``changed_at``, unix seconds),
  written in the same transaction as the hash (``store.sql.directory``). Rotation
  (``security.password_max_age_days`` or the tenant policy's ``max_age_days``) compares against
  it. Existing passwords count from the time of this migration (a grace period, not a lockout
  of every user the moment rotation is turned on); an account without a row never expires.
* ``login_event.region``: ``CC-SUB`` (e.g. ``CN-SC``) from the optional region GeoIP databases,
  for the ``new_region`` risk signal ('' when unknown).
"""

SQL = """
CREATE TABLE auth_throttle (
  login TEXT NOT NULL,
  source TEXT NOT NULL,
  failures INTEGER NOT NULL,
  last_at {bigint} NOT NULL,
  blocked_until {bigint} NOT NULL DEFAULT 0,
  PRIMARY KEY (source, login)
)
;;
CREATE INDEX auth_throttle_last ON auth_throttle (last_at)
;;
ALTER TABLE login_event ADD COLUMN region TEXT NOT NULL DEFAULT ''
;;
CREATE TABLE password_state (
  account_id {bigint} PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
  changed_at {bigint} NOT NULL
)
"""

SQLITE = """
INSERT INTO password_state (account_id, changed_at)
SELECT id, CAST(strftime('%s', 'now') AS INTEGER) FROM account WHERE password_hash IS NOT NULL
"""

POSTGRES = """
INSERT INTO password_state (account_id, changed_at)
SELECT id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) FROM account WHERE password_hash IS NOT NULL
"""
