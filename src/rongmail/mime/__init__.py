"""Chinese-proof MIME: parsing real-world mail into :class:`~rongmail.mime.model.ParsedMessage`.

Entry point: :func:`rongmail.mime.parse.parse_message` (bytes in, ParsedMessage out, never raises
on malformed input).
"""
