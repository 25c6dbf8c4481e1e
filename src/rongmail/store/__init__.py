"""Storage: ports (``ports.py``), the typed read API (``reader.py``), shared SQL operations
(``sql/``) and the concrete backends (``sqlite/``, ``postgres/``, ``fs/``)."""
