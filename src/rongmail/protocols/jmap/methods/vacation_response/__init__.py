"""JMAP vacation_response methods (one module per method)."""
