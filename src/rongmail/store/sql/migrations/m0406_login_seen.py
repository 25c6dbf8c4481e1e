"""What risk scoring knows of an account's past logins, one row per kind (fifth auth-area
migration: ``04`` + area ``06``).

Risk scoring asked, on every login, for the account's latest 500 ``login_event`` rows grouped
by outcome, network, country, region and device (``store.sql.auth``). That cost ~0.4 ms of
SQLite per login whatever the history held, and 500 rows were too short a memory: a POP3
client polling every five minutes writes 288 events a day, so a phone or a home network seen
two days earlier already looked new.

* ``login_seen``: one row per account and (outcome, net, country, region, device) with the
  latest time of such a login, kept up to date by ``store.sql.auth.insert_login_event`` in the
  same transaction as the event. Scoring reads the account's success and refusal rows of the
  history window: as many rows as the account has distinct kinds of login, not of logins.
  Filled here from the existing events.
* ``login_event_failure``: a partial index for the one question that still needs the events,
  how many failures the account had in the last quarter hour (a success does not touch it).

Both are purged with the events they summarize (``store.sql.auth.purge_login_history``).
"""

SQL = """
CREATE TABLE login_seen (
  account_id {bigint} NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  outcome TEXT NOT NULL,
  net TEXT NOT NULL,
  country TEXT NOT NULL,
  region TEXT NOT NULL,
  device TEXT NOT NULL,
  last_at {bigint} NOT NULL,
  PRIMARY KEY (account_id, outcome, net, country, region, device)
)
;;
CREATE INDEX login_seen_last ON login_seen (last_at)
;;
INSERT INTO login_seen (account_id, outcome, net, country, region, device, last_at)
SELECT account_id, outcome, net, country, region, device, MAX(at) FROM login_event
GROUP BY account_id, outcome, net, country, region, device
;;
CREATE INDEX login_event_failure ON login_event (account_id, at) WHERE outcome = 'failure'
"""
