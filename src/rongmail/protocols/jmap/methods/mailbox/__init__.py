"""JMAP mailbox methods (one module per method)."""
