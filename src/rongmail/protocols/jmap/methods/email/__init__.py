"""JMAP email methods (one module per method)."""
