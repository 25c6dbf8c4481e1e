"""POP3 (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), SASL (RFC 5034) and response codes
(RFC 2449 §8, RFC 3206).

Layout (DESIGN.md rules 1 and 2): ``proto/`` is the sans-IO core (parser, wire rendering, SASL
exchanges), ``maildrop.py`` the pure per-session view of the inbox, ``commands/`` one module per
verb reached through :data:`rongmail.protocols.pop3.commands.DISPATCH`, ``session.py`` the state
machine and ``server.py`` the asyncio shell. ``start_pop3`` in ``server.py`` is the entry point
for ``app.py``.
"""
