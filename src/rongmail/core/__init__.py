"""Pure domain model: no I/O, imports only the standard library and ``rongmail.errors``."""
