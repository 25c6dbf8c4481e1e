"""Authentication and authorization (the identity issue extends this package)."""
