"""The method table and request execution (RFC 8620 §3.3-§3.7).

``METHODS`` maps each method name to (capability it needs, handler). :func:`execute` runs the
calls of one request in order: it resolves result references against earlier responses
(§3.7), rejects methods whose capability is not in ``using`` (``unknownMethod``, §3.6.2), and
turns every exception into an ``error`` response — a method never fails the whole request and
never becomes an HTTP 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rongmail.core.models import Account
from rongmail.protocols.jmap.call import Call, JmapDeps
from rongmail.protocols.jmap.methods.core.echo import core_echo
from rongmail.protocols.jmap.methods.email.changes import email_changes
from rongmail.protocols.jmap.methods.email.copy import email_copy
from rongmail.protocols.jmap.methods.email.get import email_get
from rongmail.protocols.jmap.methods.email.import_ import email_import
from rongmail.protocols.jmap.methods.email.parse import email_parse
from rongmail.protocols.jmap.methods.email.query import email_query
from rongmail.protocols.jmap.methods.email.query_changes import email_query_changes
from rongmail.protocols.jmap.methods.email.set import email_set
from rongmail.protocols.jmap.methods.email_submission.changes import submission_changes
from rongmail.protocols.jmap.methods.email_submission.get import submission_get
from rongmail.protocols.jmap.methods.email_submission.query import submission_query
from rongmail.protocols.jmap.methods.email_submission.set import submission_set
from rongmail.protocols.jmap.methods.identity.changes import identity_changes
from rongmail.protocols.jmap.methods.identity.get import identity_get
from rongmail.protocols.jmap.methods.identity.set import identity_set
from rongmail.protocols.jmap.methods.mailbox.changes import mailbox_changes
from rongmail.protocols.jmap.methods.mailbox.get import mailbox_get
from rongmail.protocols.jmap.methods.mailbox.query import mailbox_query
from rongmail.protocols.jmap.methods.mailbox.query_changes import mailbox_query_changes
from rongmail.protocols.jmap.methods.mailbox.set import mailbox_set
from rongmail.protocols.jmap.methods.search_snippet.get import search_snippet_get
from rongmail.protocols.jmap.methods.thread.changes import thread_changes
from rongmail.protocols.jmap.methods.thread.get import thread_get
from rongmail.protocols.jmap.methods.vacation_response.get import vacation_get
from rongmail.protocols.jmap.methods.vacation_response.set import vacation_set
from rongmail.protocols.jmap.proto.errors import UNKNOWN_METHOD, MethodError, method_error_from
from rongmail.protocols.jmap.proto.refs import resolve_references
from rongmail.protocols.jmap.proto.request import Request, Response

log = logging.getLogger("rongmail.jmap")

CORE = "urn:ietf:params:jmap:core"
MAIL = "urn:ietf:params:jmap:mail"
SUBMISSION = "urn:ietf:params:jmap:submission"
VACATION = "urn:ietf:params:jmap:vacationresponse"
WEBSOCKET = "urn:ietf:params:jmap:websocket"
CAPABILITIES = (CORE, MAIL, SUBMISSION, VACATION, WEBSOCKET)

Handler = Callable[[Call, dict[str, Any]], Awaitable[dict[str, Any]]]

METHODS: dict[str, tuple[str, Handler]] = {
    "Core/echo": (CORE, core_echo),
    "Mailbox/get": (MAIL, mailbox_get),
    "Mailbox/changes": (MAIL, mailbox_changes),
    "Mailbox/query": (MAIL, mailbox_query),
    "Mailbox/queryChanges": (MAIL, mailbox_query_changes),
    "Mailbox/set": (MAIL, mailbox_set),
    "Thread/get": (MAIL, thread_get),
    "Thread/changes": (MAIL, thread_changes),
    "Email/get": (MAIL, email_get),
    "Email/changes": (MAIL, email_changes),
    "Email/query": (MAIL, email_query),
    "Email/queryChanges": (MAIL, email_query_changes),
    "Email/set": (MAIL, email_set),
    "Email/copy": (MAIL, email_copy),
    "Email/import": (MAIL, email_import),
    "Email/parse": (MAIL, email_parse),
    "SearchSnippet/get": (MAIL, search_snippet_get),
    "Identity/get": (SUBMISSION, identity_get),
    "Identity/changes": (SUBMISSION, identity_changes),
    "Identity/set": (SUBMISSION, identity_set),
    "EmailSubmission/get": (SUBMISSION, submission_get),
    "EmailSubmission/changes": (SUBMISSION, submission_changes),
    "EmailSubmission/query": (SUBMISSION, submission_query),
    "EmailSubmission/set": (SUBMISSION, submission_set),
    "VacationResponse/get": (VACATION, vacation_get),
    "VacationResponse/set": (VACATION, vacation_set),
}


async def execute(deps: JmapDeps, account: Account, request: Request, *,
                  locale: str = "en") -> Response:
    """Run every call of ``request`` for ``account``; never raises for a method's failure."""
    created = dict(request.created_ids or {})
    using = frozenset(request.using)
    response = Response(created_ids=created if request.created_ids is not None else None)
    for inv in request.calls:
        call = Call(deps, account, using, created, locale)
        try:
            entry = METHODS.get(inv.name)
            if entry is None or entry[0] not in using:
                raise MethodError(UNKNOWN_METHOD, inv.name)
            args = resolve_references(inv.arguments, response.responses)
            result = await entry[1](call, args)
            response.responses.append([inv.name, result, inv.call_id])
            for name, extra in call.implicit:
                response.responses.append([name, extra, inv.call_id])
        except Exception as exc:  # noqa: BLE001 - rendered as a JMAP error invocation
            err = method_error_from(exc, locale)
            if err.type == "serverFail":
                log.exception("JMAP method %s failed", inv.name, exc_info=exc)
            response.responses.append(["error", err.to_json(), inv.call_id])
    return response
