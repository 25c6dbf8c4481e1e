"""IMAP command handlers: one module per command family, reached through :data:`DISPATCH`.

Role: the explicit table from parsed command *type* to ``(wire verb, handler, states)``
(DESIGN.md rule 2). The session looks a command up here, checks the state (RFC 9051 §3) and
awaits the handler; nothing else decides which code runs for a verb.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import ANY, AUTH, NOT_AUTH, SELECTED, Handler, State
from ..proto import commands as c
from . import (
    acl,
    any_state,
    append,
    auth,
    compress,
    copy,
    expunge,
    fetch,
    idle,
    listing,
    mailbox,
    quota,
    search,
    select,
    sort,
    status,
    store,
)
from .any_state import capabilities

__all__ = ["DISPATCH", "Entry", "auth", "capabilities", "fetch"]


@dataclass(frozen=True, slots=True)
class Entry:
    verb: str
    handler: Handler
    states: frozenset[State]


DISPATCH: dict[type[c.Command], Entry] = {
    c.Capability: Entry("CAPABILITY", any_state.capability, ANY),
    c.Noop: Entry("NOOP", any_state.noop, ANY),
    c.Logout: Entry("LOGOUT", any_state.logout, ANY),
    c.Id: Entry("ID", any_state.id_, ANY),
    c.Enable: Entry("ENABLE", any_state.enable, AUTH),
    c.StartTls: Entry("STARTTLS", auth.starttls, NOT_AUTH),
    c.Login: Entry("LOGIN", auth.login, NOT_AUTH),
    c.Authenticate: Entry("AUTHENTICATE", auth.authenticate, NOT_AUTH),
    c.Compress: Entry("COMPRESS", compress.compress, AUTH),
    c.Select: Entry("SELECT", select.select, AUTH),
    c.Create: Entry("CREATE", mailbox.create, AUTH),
    c.Delete: Entry("DELETE", mailbox.delete, AUTH),
    c.Rename: Entry("RENAME", mailbox.rename, AUTH),
    c.Subscribe: Entry("SUBSCRIBE", mailbox.subscribe, AUTH),
    c.ListMailboxes: Entry("LIST", listing.list_, AUTH),
    c.Namespace: Entry("NAMESPACE", listing.namespace, AUTH),
    c.Status: Entry("STATUS", status.status, AUTH),
    c.Append: Entry("APPEND", append.append, AUTH),
    c.Idle: Entry("IDLE", idle.idle, AUTH),
    c.GetAcl: Entry("GETACL", acl.getacl, AUTH),
    c.SetAcl: Entry("SETACL", acl.setacl, AUTH),
    c.DeleteAcl: Entry("DELETEACL", acl.setacl, AUTH),
    c.ListRights: Entry("LISTRIGHTS", acl.listrights, AUTH),
    c.MyRights: Entry("MYRIGHTS", acl.myrights, AUTH),
    c.GetQuota: Entry("GETQUOTA", quota.getquota, AUTH),
    c.GetQuotaRoot: Entry("GETQUOTAROOT", quota.getquotaroot, AUTH),
    c.SetQuota: Entry("SETQUOTA", quota.setquota, AUTH),
    c.Check: Entry("CHECK", any_state.noop, SELECTED),
    c.Close: Entry("CLOSE", select.close, SELECTED),
    c.Unselect: Entry("UNSELECT", select.unselect, SELECTED),
    c.Expunge: Entry("EXPUNGE", expunge.expunge, SELECTED),
    c.Search: Entry("SEARCH", search.search, SELECTED),
    c.Fetch: Entry("FETCH", fetch.fetch, SELECTED),
    c.Store: Entry("STORE", store.store, SELECTED),
    c.Copy: Entry("COPY", copy.copy, SELECTED),
    c.Sort: Entry("SORT", sort.sort, SELECTED),
    c.Thread: Entry("THREAD", sort.thread, SELECTED),
}
