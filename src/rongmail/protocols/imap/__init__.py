"""IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501) server.

Layout (DESIGN.md "protocols"): ``proto/`` is the sans-IO parser and serializer (bytes in,
typed commands out; values in, bytes out); ``session.py`` is the per-connection state machine
with the selected mailbox's view (``view.py``); ``commands/`` holds one module per command
family behind an explicit dispatch table; ``server.py`` is the asyncio shell (TLS, COMPRESS,
limits, IDLE) and exports :func:`~.server.start_imap` for the composition root.

Reads go through ``store.reader.Reader``, writes through ``actions``; live updates come from
the change bus. Nothing here imports a storage backend.
"""
