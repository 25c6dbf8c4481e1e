"""Every POP3 status reply, by name, and the one place MailErrors become ``-ERR`` lines.

House rule 4 (DESIGN.md): replies are named constants; the name says ``OK``/``ERR`` and, where
there is one, the response code (RFC 2449 §8, RFC 3206). A unit test checks that every key is in
both catalogues and every code is a registered one.

Language: POP3 text is ASCII (RFC 1939 §3; the UTF8 and LANG extensions of RFC 6856 are not
offered), so replies are rendered from the English catalogue. The keys still go through
:func:`rongmail.i18n.t`, which keeps one catalogue for every protocol and allows LANG later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from rongmail.errors import AuthError, MailError, RateLimited
from rongmail.i18n import t

from .proto.wire import status

log = logging.getLogger("rongmail.pop3")

#: The wire language (see the module docstring).
LOCALE: Final = "en"

#: Response codes we send (RFC 2449 §8.1 IN-USE, LOGIN-DELAY; RFC 3206 SYS/TEMP, SYS/PERM, AUTH).
IN_USE: Final = "IN-USE"
SYS_TEMP: Final = "SYS/TEMP"
SYS_PERM: Final = "SYS/PERM"
AUTH: Final = "AUTH"
CODES: Final = frozenset({IN_USE, SYS_TEMP, SYS_PERM, AUTH})


@dataclass(frozen=True, slots=True)
class Reply:
    ok: bool
    key: str
    code: str | None = None

    def render(self, **params: Any) -> bytes:
        return status(self.ok, t(self.key, LOCALE, **params), code=self.code)


OK_GREETING: Final = Reply(True, "pop3.ok.greeting")
OK_CAPA: Final = Reply(True, "pop3.ok.capa")
OK_MECHANISMS: Final = Reply(True, "pop3.ok.mechanisms")
OK_USER: Final = Reply(True, "pop3.ok.user")
OK_LOGGED_IN: Final = Reply(True, "pop3.ok.logged_in")
OK_STLS: Final = Reply(True, "pop3.ok.stls")
OK_SCAN: Final = Reply(True, "pop3.ok.scan")
OK_UIDL: Final = Reply(True, "pop3.ok.uidl")
OK_RETR: Final = Reply(True, "pop3.ok.retr")
OK_TOP: Final = Reply(True, "pop3.ok.top")
OK_DELE: Final = Reply(True, "pop3.ok.dele")
OK_NOOP: Final = Reply(True, "pop3.ok.noop")
OK_RSET: Final = Reply(True, "pop3.ok.rset")
OK_QUIT: Final = Reply(True, "pop3.ok.quit")
OK_QUIT_UPDATED: Final = Reply(True, "pop3.ok.quit_updated")

ERR_TOO_MANY_ERRORS: Final = Reply(False, "pop3.err.too_many_errors")
ERR_TOO_MANY_COMMANDS: Final = Reply(False, "pop3.err.too_many_commands")
ERR_TIMEOUT: Final = Reply(False, "pop3.err.timeout")
ERR_TOO_MANY_CONNECTIONS_SYS_TEMP: Final = Reply(False, "pop3.err.too_many_connections", SYS_TEMP)
ERR_SHUTTING_DOWN_SYS_TEMP: Final = Reply(False, "pop3.err.shutting_down", SYS_TEMP)

ALL: Final = tuple(v for k, v in sorted(globals().items()) if isinstance(v, Reply))

#: Error keys whose reply carries a specific code; other errors get one from their class.
ERROR_CODES: Final[dict[str, str]] = {
    "pop3.err.in_use": IN_USE,
    "pop3.err.plaintext": AUTH,
    "pop3.err.no_inbox": SYS_PERM,
}


def error_code(err: MailError) -> str | None:
    """The response code for ``err`` (RFC 2449 §8, RFC 3206 §4-5)."""
    code = ERROR_CODES.get(err.key)
    if code is not None:
        return code
    if isinstance(err, AuthError | RateLimited):
        return AUTH
    if err.temporary:
        return SYS_TEMP
    return None


def render_error(err: MailError) -> bytes:
    """``-ERR [code] text``: the one rendering of a MailError on the POP3 wire."""
    if err.detail:
        log.info("pop3: %s (%s)", err.key, err.detail)
    return status(False, err.public(LOCALE), code=error_code(err))
