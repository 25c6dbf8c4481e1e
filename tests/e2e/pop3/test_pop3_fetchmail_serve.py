"""fetchmail against ``rongmail serve`` run exactly as a user runs it (issue 4, item 4).

Mail is submitted over SMTP submission (STARTTLS + AUTH), lands in the inbox, and fetchmail
collects it over POP3 with STLS and over POP3S. With ``keep`` (Foxmail's "leave a copy on the
server") nothing is removed and a restart of the whole process changes no unique id; without
``keep`` the fetched messages are gone from the server.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import pytest
from fetchmail_client import Account, Fetchmail, subjects

from e2e.conftest import RunningServer, run_server

pytestmark = pytest.mark.peer

LISTENERS = ("submission", "pop3", "pop3s")


def submit(srv: RunningServer, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"] = msg["To"] = srv.admin
    msg["Subject"] = subject
    msg.set_content(body)
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=30) as smtp:
        smtp.starttls(context=tls)
        smtp.login(srv.admin, srv.password)
        smtp.send_message(msg)


def test_leave_a_copy_across_restart(fetchmail_bin: str, tmp_path: Path) -> None:
    home = tmp_path / "fm"
    kept, moved = tmp_path / "kept.mbox", tmp_path / "moved.mbox"
    with run_server(tmp_path, wait_for=LISTENERS) as srv:
        account = Account("127.0.0.1", srv.data_dir / "tls" / "cert.pem", srv.admin, srv.password)
        fm = Fetchmail(fetchmail_bin, home, account)
        submit(srv, "invoice", "\u53d1\u7968\u5df2\u5f00\n.a line with a dot\n")
        submit(srv, "minutes", "see attached\n")
        run = fm.run(kept, port=srv.ports["pop3"], keep=True, implicit_tls=False)
        assert run.returncode == 0, run.stdout + run.stderr
        assert subjects(kept) == ["invoice", "minutes"]
        run = fm.run(kept, port=srv.ports["pop3s"], keep=True, implicit_tls=True)
        assert run.returncode == 1, run.stdout + run.stderr  # nothing new
    with run_server(tmp_path, wait_for=LISTENERS) as srv:  # same data, new process and ports
        run = fm.run(kept, port=srv.ports["pop3s"], keep=True, implicit_tls=True)
        assert run.returncode == 1, run.stdout + run.stderr  # unique ids survived the restart
        assert subjects(kept) == ["invoice", "minutes"]
        run = fm.run(moved, port=srv.ports["pop3"], keep=False, implicit_tls=False,
                     idfile="ids-fresh", fetchall=True)
        assert run.returncode == 0, run.stdout + run.stderr
        assert subjects(moved) == ["invoice", "minutes"]
        run = fm.run(moved, port=srv.ports["pop3s"], keep=False, implicit_tls=True,
                     idfile="ids-fresh", fetchall=True)
        assert run.returncode == 1, run.stdout + run.stderr  # the server kept nothing
