"""JMAP thread methods (one module per method)."""
