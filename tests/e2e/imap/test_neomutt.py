"""NeoMutt, a terminal MUA, driven in tmux (``send-keys`` / ``capture-pane``) against
``rongmail serve`` over IMAPS: open the inbox, read a message, move it into a Chinese folder,
delete another, search on the server (``=B``, NeoMutt's IMAP ``SEARCH BODY``) and with a
client-side ``~s`` limit, open the Chinese folder. Every step is checked on the screen and
then on the server with a second client.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap_e2e import (
    ImapServer,
    Tmux,
    client_tls,
    imap_snapshot,
    make_message,
    message_id,
    write_mbox,
)
from imapclient import IMAPClient

pytestmark = pytest.mark.peer

FOLDER = "项目/发票"
COUNT = 30


def muttrc(srv: ImapServer, home: Path) -> str:
    user = srv.user.replace("@", "%40")
    # the server's certificate is trusted by file; no header/body cache, so every view is
    # what the server says now
    return f"""set folder="imaps://{user}@127.0.0.1:{srv.imaps}/"
set spoolfile="+INBOX"
set imap_pass="{srv.password}"
set certificate_file="{home}/certificates"
set header_cache=""
set message_cachedir=""
set charset="utf-8"
set timeout=1
set mail_check=1
set imap_idle=no
set confirmappend=no
set delete=yes
set move=no
set quit=yes
set wait_key=no
set pager_stop=yes
set mark_old=no
set beep=no
set sort=date
set index_format="%4C %Z [%s]"
"""


@pytest.fixture
def mutt(neomutt_bin: str, imap_server: ImapServer, tmp_path: Path) -> Iterator[Tmux]:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(imap_server.cafile, home / "certificates")
    (home / "muttrc").write_text(muttrc(imap_server, home))
    tmux = Tmux(tmp_path / "tmux.sock")
    tmux.start([neomutt_bin, "-n", "-F", str(home / "muttrc")],
               {"HOME": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                "TERM": "xterm-256color"})
    try:
        yield tmux
    finally:
        tmux.kill()


def test_neomutt_read_move_delete_search(imap_server: ImapServer, tmp_path: Path,
                                         request: pytest.FixtureRequest) -> None:
    srv = imap_server
    srv.import_mbox(write_mbox(tmp_path / "in.mbox", (make_message(i) for i in range(COUNT))))
    with IMAPClient("127.0.0.1", srv.imaps, ssl=True, ssl_context=client_tls(srv.cafile)) as c:
        c.login(srv.user, srv.password)
        c.create_folder(FOLDER)
    t: Tmux = request.getfixturevalue("mutt")

    def server() -> dict[str, dict[str, frozenset[str]]]:
        return imap_snapshot(srv.imaps, srv.user, srv.password, srv.cafile)

    t.wait_for(rf"\+INBOX \[Msgs:{COUNT} ")
    screen = t.wait_for(r"\[季度报告 0\]")
    assert "[关于发票的通知 2]" in screen  # Chinese subjects decoded (RFC 2047) and shown

    # read the first message
    t.send("Enter")
    t.wait_for("第 0 封测试邮件")
    t.send("q")
    t.wait_for(rf"\+INBOX \[Msgs:{COUNT} ")
    assert "   1     [季度报告 0]" in t.screen()  # no longer N(ew); NeoMutt stores \Seen at sync

    # move the second one into 项目/发票 (NeoMutt: COPY, then \Deleted on the source)
    t.send("j", "s")
    t.wait_for("Save to mailbox")
    t.send("C-u")
    t.send("=" + FOLDER, literal=True)
    t.send("Enter")
    t.wait_for(r"Del:1")
    # delete the third, then sync ($): NeoMutt expunges both
    t.send("d")
    t.wait_for(r"Del:2")
    t.send("$")
    t.wait_for(rf"\+INBOX \[Msgs:{COUNT - 2} ")
    state = server()
    assert state["INBOX"][message_id(0)] == {"\\Seen"}
    assert message_id(1) not in state["INBOX"] and message_id(2) not in state["INBOX"]
    # the moved copy kept its flags and lost the source's \Deleted mark
    assert state[FOLDER] == {message_id(1): frozenset()}

    # server-side body search in Chinese (=B: IMAP SEARCH BODY, RFC 9051 §6.4.4)
    t.send("l")
    t.wait_for("Limit to messages matching")
    t.send("=B 增值税发票", literal=True)
    t.send("Enter")
    hits = [i for i in range(COUNT) if i % 6 == 2 and i != 2]
    screen = t.wait_for(rf"Msgs:{len(hits)}/{COUNT - 2} ")
    assert all(f"[关于发票的通知 {i}]" in screen for i in hits)
    assert "季度报告" not in screen
    # client-side limit on the subject
    t.send("l")
    t.wait_for("Limit to messages matching")
    t.send("C-u")
    t.send("~s 会议纪要", literal=True)
    t.send("Enter")
    screen = t.wait_for(rf"Msgs:{len(range(4, COUNT, 6))}/{COUNT - 2} ")
    assert "[会议纪要 4]" in screen and "发票" not in screen.split("NeoMutt:")[0]

    # open the Chinese folder: the moved message is there, not deleted
    t.send("c")
    t.wait_for("Open mailbox")
    t.send("C-u")
    t.send("=" + FOLDER, literal=True)
    t.send("Enter")
    screen = t.wait_for(r"\+项目/发票 \[Msgs:1 ")
    assert "[Weekly sync 1]" in screen
    assert "Del:" not in screen

    t.send("q")
    deadline = time.monotonic() + 10
    while t.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not t.alive(), t.screen()
