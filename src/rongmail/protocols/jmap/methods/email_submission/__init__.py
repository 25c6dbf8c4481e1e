"""JMAP email_submission methods (one module per method)."""
