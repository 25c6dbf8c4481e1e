"""Sans-IO POP3: bytes in, events out; values in, wire bytes out. No sockets, no store."""
