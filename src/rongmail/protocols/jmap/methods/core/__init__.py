"""JMAP core methods (one module per method)."""
