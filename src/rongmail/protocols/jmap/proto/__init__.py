"""Sans-IO JMAP core (RFC 8620): request parsing, result references, error types, ids.

Nothing here performs I/O or knows about the store: bytes/JSON in, typed values or
:class:`~rongmail.protocols.jmap.proto.errors.JmapError` out.
"""
