"""Every SMTP reply RongMail sends, as named constants (DESIGN.md house rule 4).

A constant's name carries its reply code (``R550_NO_SUCH_USER``); its enhanced status code
(RFC 3463, advertised with ENHANCEDSTATUSCODES, RFC 2034) must be of the same class. The greeting,
HELO/EHLO replies and the intermediate 3xx replies carry no enhanced code (RFC 2034 §3).
``tests/unit/smtp/test_codes.py`` checks the table: names match codes, classes match, no two
constants are identical, and text is single-line ASCII.

Reply text is protocol text read by other MTAs and copied into bounces; it is English by design.
Text that comes from :class:`rongmail.errors.MailError` is rendered through ``rongmail.i18n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rongmail.errors import MailError, ValidationError


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply: ``code``, optional enhanced ``status`` and a ``text`` template."""

    code: int
    status: str | None
    text: str
    #: Further lines of a multi-line reply (EHLO keywords), RFC 5321 §4.2.1.
    lines: tuple[str, ...] = ()

    def format(self, **params: Any) -> Reply:
        """Fill ``{placeholders}`` in the text."""
        return Reply(self.code, self.status, self.text.format(**params), self.lines)

    def with_lines(self, lines: tuple[str, ...]) -> Reply:
        return Reply(self.code, self.status, self.text, lines)

    @property
    def is_error(self) -> bool:
        return self.code >= 400

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    def encode(self) -> bytes:
        """Serialise: ``code SP [status SP] text CRLF``, ``code-`` on all but the last line."""
        first = f"{self.status} {self.text}" if self.status else self.text
        lines = (first, *self.lines)
        out = [
            f"{self.code}{'-' if i < len(lines) - 1 else ' '}{line}\r\n"
            for i, line in enumerate(lines)
        ]
        return "".join(out).encode("utf-8")


class ReplyError(ValidationError):
    """A refusal that maps to exactly one reply; commands raise it, the session renders it."""

    def __init__(self, reply: Reply, *, detail: str = "") -> None:
        super().__init__("error.invalid", detail=detail, what=reply.text)
        self.reply = reply
        self.temporary = reply.temporary  # type: ignore[misc]


# -- 2xx ----------------------------------------------------------------------------------------
R211_STATUS = Reply(211, "2.0.0", "System status")
R214_HELP = Reply(214, "2.0.0", "See RFC 5321 and https://www.rfc-editor.org/rfc/rfc5321")
R220_GREETING = Reply(220, None, "{hostname} ESMTP RongMail")
R220_READY_TLS = Reply(220, "2.0.0", "Ready to start TLS")
R221_BYE = Reply(221, "2.0.0", "{hostname} closing connection")
R235_AUTH_OK = Reply(235, "2.7.0", "Authentication successful")
R250_EHLO = Reply(250, None, "{hostname} greets {helo}")
R250_HELO = Reply(250, None, "{hostname}")
R250_OK = Reply(250, "2.0.0", "OK")
R250_RESET = Reply(250, "2.0.0", "Reset OK")
R250_SENDER_OK = Reply(250, "2.1.0", "Sender OK")
R250_RECIPIENT_OK = Reply(250, "2.1.5", "Recipient OK")
R250_CHUNK_OK = Reply(250, "2.0.0", "{size} octets received")
R250_QUEUED = Reply(250, "2.0.0", "OK queued as {queue_id}")
# -- 3xx ----------------------------------------------------------------------------------------
R334_CHALLENGE = Reply(334, None, "{challenge}")
R354_START_DATA = Reply(354, None, "End data with <CR><LF>.<CR><LF>")
# -- 4xx ----------------------------------------------------------------------------------------
R421_SHUTTING_DOWN = Reply(421, "4.3.2", "{hostname} Service shutting down")
R421_TIMEOUT = Reply(421, "4.4.2", "{hostname} Timeout, closing connection")
R421_SESSION_TOO_LONG = Reply(421, "4.4.2", "{hostname} Connection time limit exceeded")
R421_TOO_MANY_CONNECTIONS = Reply(421, "4.7.0", "{hostname} Too many connections, try later")
R421_TOO_MANY_ERRORS = Reply(421, "4.7.0", "{hostname} Too many errors, closing connection")
R421_TOO_MANY_COMMANDS = Reply(421, "4.7.0", "{hostname} Too many commands, closing connection")
R421_AUTH_FAILURES = Reply(421, "4.7.0", "{hostname} Too many authentication failures")
R421_UNAVAILABLE = Reply(421, "4.7.0", "{hostname} Service temporarily unavailable")
R451_LOCAL_ERROR = Reply(451, "4.3.0", "Local error in processing, try again later")
R451_TRY_LATER = Reply(451, "4.7.1", "Temporarily rejected by policy, try again later")
R451_RATE_LIMITED = Reply(451, "4.7.1", "Rate limit exceeded, try again later")
R452_TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")
R452_STORAGE_FULL = Reply(452, "4.3.1", "Insufficient system storage")
R454_TLS_UNAVAILABLE = Reply(454, "4.7.0", "TLS not available")
R454_AUTH_TEMPORARY = Reply(454, "4.7.0", "Temporary authentication failure")
# -- 5xx ----------------------------------------------------------------------------------------
R500_UNRECOGNIZED = Reply(500, "5.5.2", "Syntax error, command unrecognized")
R500_LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long")
R500_BARE_LINE_ENDING = Reply(500, "5.5.2", "Commands must end with <CR><LF>")
R501_SYNTAX = Reply(501, "5.5.4", "Syntax error in parameters or arguments")
R501_HELO_SYNTAX = Reply(501, "5.5.4", "HELO/EHLO needs a domain or address literal")
R501_SENDER_SYNTAX = Reply(501, "5.1.7", "Bad sender address syntax")
R501_RECIPIENT_SYNTAX = Reply(501, "5.1.3", "Bad recipient address syntax")
R501_BDAT_SYNTAX = Reply(501, "5.5.4", "Syntax: BDAT <size> [LAST]")
R501_AUTH_CANCELLED = Reply(501, "5.7.0", "Authentication cancelled")
R501_BASE64 = Reply(501, "5.5.2", "Cannot decode base64 response")
R502_NOT_IMPLEMENTED = Reply(502, "5.5.1", "Command not implemented")
R502_VRFY_DISABLED = Reply(502, "5.5.1", "VRFY command is disabled")
R502_EXPN_DISABLED = Reply(502, "5.5.1", "EXPN command is disabled")
R503_BAD_SEQUENCE = Reply(503, "5.5.1", "Bad sequence of commands")
R503_HELO_FIRST = Reply(503, "5.5.1", "Send EHLO or HELO first")
R503_MAIL_FIRST = Reply(503, "5.5.1", "Send MAIL first")
R503_NESTED_MAIL = Reply(503, "5.5.1", "Sender already specified")
R503_ALREADY_AUTHENTICATED = Reply(503, "5.5.1", "Already authenticated")
R503_AUTH_IN_TRANSACTION = Reply(503, "5.5.1", "AUTH not allowed during a mail transaction")
R503_AUTH_UNAVAILABLE = Reply(503, "5.5.1", "AUTH not available on this port")
R503_ALREADY_TLS = Reply(503, "5.5.1", "TLS already active")
R503_DATA_AFTER_BDAT = Reply(503, "5.5.1", "DATA not allowed after BDAT in one transaction")
R504_MECHANISM = Reply(504, "5.5.4", "Unrecognized authentication mechanism")
R530_AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")
R530_STARTTLS_FIRST = Reply(530, "5.7.0", "Must issue a STARTTLS command first")
R534_MECHANISM_TOO_WEAK = Reply(534, "5.7.9", "Authentication mechanism is too weak")
R535_AUTH_FAILED = Reply(535, "5.7.8", "Authentication credentials invalid")
R538_ENCRYPTION_REQUIRED = Reply(538, "5.7.11", "Encryption required for authentication")
R550_NO_SUCH_USER = Reply(550, "5.1.1", "No such user here")
R550_MAILBOX_DISABLED = Reply(550, "5.2.1", "Mailbox disabled")
R550_SENDER_REJECTED = Reply(550, "5.7.1", "Sender address rejected")
R550_POLICY = Reply(550, "5.7.1", "Rejected by policy")
R552_MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds fixed limit")
R552_MAILBOX_FULL = Reply(552, "5.2.2", "Mailbox full")
R553_SENDER_NOT_OWNED = Reply(553, "5.7.1", "Sender address not owned by authenticated user")
R553_SMTPUTF8_REQUIRED = Reply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8")
R554_CONNECTION_REJECTED = Reply(554, "5.7.1", "{hostname} Service unavailable")
R554_RELAY_DENIED = Reply(554, "5.7.1", "Relay access denied")
R554_NO_VALID_RECIPIENTS = Reply(554, "5.5.1", "No valid recipients")
R554_BARE_LINE_ENDING = Reply(554, "5.6.0", "Message contains bare <CR> or <LF>; rejected")
R554_TRANSACTION_FAILED = Reply(554, "5.0.0", "Transaction failed")
R554_NOT_SMTP = Reply(554, "5.7.0", "This is an SMTP server; closing connection")
R555_UNSUPPORTED_PARAMETER = Reply(555, "5.5.4", "Parameter not recognized or not implemented")


def all_replies() -> dict[str, Reply]:
    """The table, for tests and docs: every ``R<code>_*`` constant of this module."""
    return {k: v for k, v in globals().items() if k[:1] == "R" and isinstance(v, Reply)}


def auth_failure(err: MailError) -> Reply:
    """A failed AUTH (RFC 4954 §6) with the error's public text, so the client is told *why*
    (e.g. "use an app password"): 534 5.7.9 when this user's policy refuses the account
    password (another mechanism or an app password would do), 535 5.7.8 for other refusals,
    454 4.7.0 for temporary failures (throttling, storage). The text is the English catalogue
    entry on one ASCII line; it never carries a secret (``MailError.public``)."""
    if err.temporary:
        base = R454_AUTH_TEMPORARY
    elif err.key == "auth.app_password_required":
        base = R534_MECHANISM_TOO_WEAK
    else:
        base = R535_AUTH_FAILED
    text = " ".join(err.public("en").split()).encode("ascii", "replace").decode("ascii")
    return Reply(base.code, base.status, text or base.text)
