"""SEARCH/UID SEARCH with the full-text index, ESEARCH, SEARCHRES, SORT and THREAD
(RFC 9051 §6.4.4, RFC 4731, RFC 5182, RFC 5256, RFC 7162 §3.1.5)."""

from __future__ import annotations

import imaplib

from imap_helpers import PASSWORD, PLAIN, USER, ImapEnv, mail


async def _fill(env: ImapEnv) -> None:
    base = 1_780_000_000
    # Chinese subject and body (关于发票的通知 / 增值税发票)
    await env.deliver(mail("c1"), received_at=base)
    await env.deliver(mail("p1", PLAIN), flags=1, received_at=base + 10)  # \Seen, English
    await env.deliver(
        mail("c2").replace(b"\xe5\x8f\x91\xe7\xa5\xa8", b"XXXXXX"), received_at=base + 20
    )


def _session(env: ImapEnv) -> imaplib.IMAP4:
    c = imaplib.IMAP4(env.host, env.port)
    c.login(USER, PASSWORD)
    c.select("INBOX")
    return c


async def test_search_chinese_text(imap: ImapEnv) -> None:
    await _fill(imap)

    def client() -> None:
        c = _session(imap)
        # RFC 9051 §6.4.4 with a literal in UTF-8: SEARCH CHARSET UTF-8 TEXT "发票"
        c.literal = "发票".encode()
        typ, data = c.search("UTF-8", "TEXT")
        assert typ == "OK" and data == [b"1 3"]  # 3 still has 发票 in its subject
        c.literal = "增值税发票".encode()
        typ, data = c.uid("SEARCH", "CHARSET", "UTF-8", "BODY")
        assert data == [b"1"]
        c.literal = "发票".encode("gb18030")
        typ, data = c.search("GBK", "SUBJECT")
        assert data == [b"1 3"]
        typ, data = c.search(None, "FROM", "zhangsan")
        assert data == [b"1 3"]
        typ, data = c.search(None, 'SUBJECT "afternoon"')
        assert data == [b"2"]
        c.logout()

    await imap.run(client)


async def test_search_flags_sizes_dates_and_boolean(imap: ImapEnv) -> None:
    await _fill(imap)

    def client() -> None:
        c = _session(imap)
        assert c.search(None, "SEEN")[1] == [b"2"]
        assert c.search(None, "UNSEEN")[1] == [b"1 3"]
        assert c.search(None, "NOT", "SEEN", "NOT", "TEXT", "invoice")[1] == [b""]
        assert c.search(None, "OR", "SEEN", "UID", "3")[1] == [b"2 3"]
        assert c.search(None, "2:*")[1] == [b"2 3"]
        assert c.search(None, "SENTBEFORE", "1-Jan-2000")[1] == [b"2"]
        assert c.search(None, "LARGER", "1", "SMALLER", "100000")[1] == [b"1 2 3"]
        assert c.search(None, "HEADER", "Message-ID", "p1@")[1] == [b"2"]
        typ, data = c.search(None, "FROBNICATE")
        assert typ == "NO" or typ == "BAD"
        c.logout()

    try:
        await imap.run(client)
    except imaplib.IMAP4.error as e:  # imaplib raises on BAD
        assert "BAD" in str(e) or "Syntax" in str(e)


async def test_esearch_and_searchres(imap: ImapEnv) -> None:
    await _fill(imap)

    def client() -> None:
        c = _session(imap)
        typ, data = c._simple_command("UID", "SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "UNSEEN")
        esearch = c.untagged_responses.pop("ESEARCH")
        assert esearch[0].endswith(b"UID MIN 1 MAX 3 ALL 1,3 COUNT 2")
        typ, data = c._simple_command("SEARCH", "RETURN", "(SAVE)", "UNSEEN")
        assert typ == "OK" and "ESEARCH" not in c.untagged_responses
        typ, data = c._simple_command("UID", "FETCH", "$", "(FLAGS)")
        fetched = c.untagged_responses.pop("FETCH")
        assert len(fetched) == 2
        c.logout()

    await imap.run(client)


async def test_sort_and_thread(imap: ImapEnv) -> None:
    await _fill(imap)
    await imap.deliver(
        mail("r1", PLAIN).replace(b"Subject: afternoon meeting", b"Subject: Re: afternoon meeting")
        .replace(b"Message-ID: <r1@", b"In-Reply-To: <p1@Blurdybloop.example>\r\nMessage-ID: <r1@"),
        received_at=1_780_000_030,
    )

    def client() -> None:
        c = _session(imap)
        typ, data = c.sort("(REVERSE ARRIVAL)", "UTF-8", "ALL")
        assert data == [b"4 3 2 1"]
        typ, data = c.sort("(SUBJECT)", "UTF-8", "ALL")
        assert data[0].split()[-2:] == [b"1", b"3"] or data[0].split()[:2] == [b"2", b"4"]
        typ, data = c.thread("REFERENCES", "UTF-8", "ALL")
        assert typ == "OK" and b"(2 4)" in data[0]
        typ, data = c.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
        assert typ == "OK" and b"(2 4)" in data[0]
        c.logout()

    await imap.run(client)
