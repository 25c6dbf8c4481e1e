"""JMAP identity methods (one module per method)."""
