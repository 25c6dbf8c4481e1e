"""JMAP search_snippet methods (one module per method)."""
