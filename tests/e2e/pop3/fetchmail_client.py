"""Drive Debian's fetchmail against a POP3 server and collect what it fetched in an mbox.

``Fetchmail(binary, home, account).run(mbox, port=..., keep=..., implicit_tls=...)`` writes a private
rcfile (one poll, UIDL tracking, TLS with certificate checking against the server's own
certificate) and runs one poll. fetchmail's exit status is returned as is: 0 = mail fetched,
1 = no new mail. Delivery goes through a tiny MDA that appends to an mbox with Python's
``mailbox`` module, so the test reads exactly what fetchmail handed over.
"""

from __future__ import annotations

import getpass
import mailbox
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MDA = """\
import mailbox, sys
box = mailbox.mbox(sys.argv[1])
box.lock()
try:
    box.add(sys.stdin.buffer.read())
    box.flush()
finally:
    box.unlock()
"""


@dataclass
class Account:
    """Where and as whom fetchmail logs in. ``name`` must match the certificate's CN."""

    name: str
    cert: Path
    user: str
    password: str


class Fetchmail:
    def __init__(self, binary: str, home: Path, account: Account) -> None:
        self.binary = binary
        self.home = home
        self.account = account
        home.mkdir(parents=True, exist_ok=True)
        self.mda = home / "mda.py"
        self.mda.write_text(MDA)

    def run(
        self,
        mbox: Path,
        *,
        port: int,
        keep: bool,
        implicit_tls: bool,
        idfile: str = "ids",
        fetchall: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        acct = self.account
        options = ["keep" if keep else "no keep"]
        if fetchall:
            options.append("fetchall")
        # without "ssl", a TLS sslproto makes fetchmail require STLS (RFC 2595)
        tls = "ssl" if implicit_tls else 'sslproto "TLS1.2+"'
        rc = self.home / "fetchmailrc"
        rc.write_text(
            "set no syslog\nset no bouncemail\n"
            f"poll {acct.name} via 127.0.0.1 proto POP3 port {port} uidl auth password\n"
            f'  user "{acct.user}" there with password "{acct.password}"'
            f' is "{getpass.getuser()}" here\n'
            f"  {' '.join(options)}\n"
            f'  {tls} sslcertck sslcertfile "{acct.cert}" sslcommonname "{acct.name}"\n'
            f'  mda "{sys.executable} {self.mda} {mbox}"\n'
        )
        rc.chmod(0o600)
        env = dict(os.environ, HOME=str(self.home), FETCHMAILHOME=str(self.home))
        # root's lock file is /var/run/fetchmail.pid whatever FETCHMAILHOME says: a private one,
        # or runs in parallel (xdist workers, another test run) see "another fetchmail running"
        return subprocess.run(
            [self.binary, "-f", str(rc), "--idfile", str(self.home / idfile), "-v", "--nodetach",
             "--pidfile", str(self.home / "fetchmail.pid")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )


def payload(msg: mailbox.mboxMessage) -> bytes:
    data = msg.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


def subjects(mbox: Path) -> list[str]:
    if not mbox.exists():
        return []
    return [str(m["Subject"]) for m in mailbox.mbox(mbox)]
