"""SQLite metadata backend (apsw with a bundled, current SQLite)."""
