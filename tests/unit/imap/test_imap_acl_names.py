"""Shared mailboxes in the IMAP name space (RFC 2342 §5, RFC 4314), the rights strings of
RFC 4314 §2.1.1, and the IMAP settings section (config/imap.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rongmail.config.imap import ImapSettings
from rongmail.config.settings import Settings
from rongmail.core.models import Mailbox
from rongmail.protocols.imap.commands.acl import parse_rights, shown
from rongmail.protocols.imap.names import OWNER_RIGHTS, MailboxTree
from rongmail.protocols.imap.replies import BadCommand
from rongmail.protocols.imap.server import options_from_settings
from rongmail.store.reader import SharedMailbox


def mb(id_: int, name: str, parent: int = 0, role: str | None = None, account: int = 1) -> Mailbox:
    return Mailbox(id_, account, parent, name, role, 1, 1, 1, True, 0)


def test_shared_mailboxes_under_other_users() -> None:
    own = [mb(1, "INBOX", role="inbox"), mb(2, "项目")]
    bob = "bob@demo.test"
    shared = [
        SharedMailbox(7, bob, mb(10, "INBOX", role="inbox", account=7), "lr"),
        SharedMailbox(7, bob, mb(11, "发票", parent=10, account=7), "lrs"),
        SharedMailbox(7, bob, mb(12, "Team", parent=99, account=7), "r"),  # parent not shared
    ]
    tree = MailboxTree(own, shared)
    inbox = tree.get("Other Users/bob@demo.test/INBOX")
    assert inbox is not None and inbox.shared and inbox.rights == "lr" and inbox.has_children
    sub = tree.get("Other Users/bob@demo.test/INBOX/发票")
    assert sub is not None and sub.owner == bob and sub.subscribed
    assert tree.get("Other Users/bob@demo.test/Team") is not None
    assert tree.get("Other Users") is None  # a level, not a mailbox
    assert tree.placeholders == ["Other Users", "Other Users/bob@demo.test"]
    assert tree.match_placeholders("", "%") == ["Other Users"]
    assert [n.path for n in tree.match("", "Other Users/%/%")] == [
        "Other Users/bob@demo.test/INBOX", "Other Users/bob@demo.test/Team"]
    assert tree.get("INBOX") is not None and tree.get("INBOX").rights == OWNER_RIGHTS  # type: ignore[union-attr]


def test_rights_strings() -> None:
    assert shown(OWNER_RIGHTS) == "lrswipkxtecda"
    assert shown("lr") == "lr"
    assert shown("lrk") == "lrkc" and shown("lre") == "lred"
    assert parse_rights("rl") == "lr"
    assert parse_rights("lrcd") == "lrkxte"  # RFC 2086 c = kx, d = xte under RIGHTS=texk
    with pytest.raises(BadCommand):
        parse_rights("lrz")


def test_imap_settings_map_to_listener_options() -> None:
    base = Settings()
    assert not options_from_settings(base).allow_plaintext_auth
    imap = ImapSettings(allow_plaintext_auth=True, max_sessions_per_user=5, hostname="imap.x",
                        multiappend_size_factor=2)
    opts = options_from_settings(SimpleNamespace(  # type: ignore[arg-type]
        imap=imap, limits=base.limits, server=base.server))
    assert opts.allow_plaintext_auth and opts.max_sessions_per_user == 5
    assert opts.hostname == "imap.x"
    assert opts.limits.max_append_command == 2 * base.limits.max_message_bytes
    assert opts.idle_timeout >= 1800
    with pytest.raises(ValueError):
        ImapSettings(idle_timeout=60)  # RFC 9051 §5.4: at least 30 minutes
