"""SMTP: inbound MX (port 25) and message submission (587 STARTTLS, 465 implicit TLS).

Layout (DESIGN.md house rules 1, 2 and 4):

* ``proto/`` — sans-IO: the wire parser (``feed(bytes) -> list[Event]``), the command and path
  grammar, ESMTP parameters, SASL decoding and reply serialisation. No I/O, no clock.
* ``codes.py`` — every wire reply as a named constant (``R550_NO_SUCH_USER``).
* ``commands/`` — one verb per module, reached through ``commands.DISPATCH``.
* ``session.py`` — one connection's state machine; consumes parser events, calls the pipeline
  and the injected ports (directory, authenticator, delivery), returns bytes to write.
* ``server.py`` — the asyncio shell: sockets, TLS, timeouts, connection limits.
"""
