"""A private Postfix instance for tests (Debian ``postfix``): own config directory, queue,
Maildirs and log, listening on a loopback address and port of our choice.

Roles it plays:

* **receiver** — RongMail delivers to it; mail for ``domains`` lands in Maildirs under
  ``<base>/mail/<domain>/<user>/`` (:meth:`PostfixServer.wait_for_mail` reads them);
* **relay** — clients in ``mynetworks`` (127.0.0.0/8) may relay; with ``relayhost`` set
  (``"[127.0.0.1]:2525"``) it forwards everything there, e.g. to RongMail's inbound port,
  from ``smtp_bind_address``.

Postfix checks ``inet_interfaces`` against configured interface addresses, so the instance sets
it to 127.0.0.1 and binds its own address in ``master.cf``. Its base directory is a fresh
0755 directory under /tmp (the ``postfix`` user must traverse it; pytest's tmp dirs are 0700).
``stop()`` runs ``postfix -c <dir> stop`` for this instance only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from peers import PeerUnavailable
from peers.apt import ensure
from peers.dns_server import free_port

PACKAGES = ("postfix", "swaks")

_MASTER = """\
{listen} inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixServer:
    def __init__(
        self,
        *,
        address: str = "127.0.0.30",
        port: int | None = None,
        hostname: str = "mx.peer.test",
        domains: Sequence[str] = ("peer.test",),
        users: Sequence[str] = ("bob", "alice"),
        relayhost: str = "",
        smtp_bind_address: str = "",
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.address = address
        self.port = port or 0
        self.hostname = hostname
        self.domains = [d.lower() for d in domains]
        self.users = list(users)
        self.relayhost = relayhost
        self.smtp_bind_address = smtp_bind_address
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.extra = dict(extra or {})
        self.base = Path()
        self._started = False

    @property
    def conf(self) -> Path:
        return self.base / "conf"

    @property
    def maillog(self) -> Path:
        return self.base / "maillog"

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> PostfixServer:
        ensure(PACKAGES)
        if shutil.which("postfix") is None:
            raise PeerUnavailable("postfix not installed")
        if os.geteuid() != 0:
            raise PeerUnavailable("a private Postfix instance needs root")
        try:
            pw = pwd.getpwnam("postfix")
        except KeyError as e:
            raise PeerUnavailable("no postfix user") from e
        if not self.port:
            self.port = free_port(self.address)
        self.base = Path(tempfile.mkdtemp(prefix="rongmail-postfix-", dir="/tmp"))
        self.base.chmod(0o755)
        for sub in ("conf", "queue"):
            (self.base / sub).mkdir(mode=0o755)
        for sub in ("data", "mail"):
            (self.base / sub).mkdir(mode=0o755)
            os.chown(self.base / sub, pw.pw_uid, pw.pw_gid)
        (self.conf / "vmailbox").write_text(
            "".join(f"{u}@{d} {d}/{u}/\n" for d in self.domains for u in self.users)
        )
        (self.conf / "main.cf").write_text(self._main_cf(pw.pw_uid, pw.pw_gid))
        (self.conf / "master.cf").write_text(_MASTER.format(listen=f"{self.address}:{self.port}"))
        proc = subprocess.run(
            ["postfix", "-c", str(self.conf), "start"], capture_output=True, text=True, timeout=60
        )
        if proc.returncode != 0:
            log = self.maillog.read_text(errors="replace") if self.maillog.exists() else ""
            raise PeerUnavailable(f"postfix start failed: {proc.stderr[-500:]} {log[-800:]}")
        self._started = True
        self._wait_listening()
        return self

    def stop(self) -> None:
        if self._started:
            subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True,
                           timeout=60)  # fmt: skip
            self._started = False
        if self.base != Path() and not os.environ.get("RONGMAIL_KEEP_PEERS"):
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PostfixServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _main_cf(self, uid: int, gid: int) -> str:
        b = self.base
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": str(b / "queue"),
            "data_directory": str(b / "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": self.hostname,
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "virtual_mailbox_domains": " ".join(self.domains),
            "virtual_mailbox_base": str(b / "mail"),
            "virtual_mailbox_maps": f"texthash:{self.conf / 'vmailbox'}",
            "virtual_uid_maps": f"static:{uid}",
            "virtual_gid_maps": f"static:{gid}",
            "virtual_minimum_uid": str(min(uid, 100)),
            "alias_maps": "",
            "alias_database": "",
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(b),
            "biff": "no",
            "append_dot_mydomain": "no",
            "readme_directory": "no",
            "smtputf8_enable": "yes",
            "smtp_tls_security_level": "may",
            "smtp_dns_support_level": "disabled" if self.relayhost else "enabled",
        }
        if self.relayhost:
            settings["relayhost"] = self.relayhost
        if self.smtp_bind_address:
            settings["smtp_bind_address"] = self.smtp_bind_address
        if self.tls_cert and self.tls_key:
            settings.update({
                "smtpd_tls_cert_file": str(self.tls_cert),
                "smtpd_tls_key_file": str(self.tls_key),
                "smtpd_tls_security_level": "may",
            })  # fmt: skip
        settings.update(self.extra)
        return "".join(f"{k} = {v}\n" for k, v in settings.items())

    def _wait_listening(self, timeout: float = 20.0) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.address, self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"220"):
                        return
            except OSError:
                time.sleep(0.1)
        raise PeerUnavailable(f"postfix is not listening on {self.address}:{self.port}")

    # -- inspection -----------------------------------------------------------------------------
    def mailbox(self, address: str) -> Path:
        user, _, domain = address.lower().partition("@")
        return self.base / "mail" / domain / user

    def messages(self, address: str) -> list[bytes]:
        new = self.mailbox(address) / "new"
        if not new.is_dir():
            return []
        return [p.read_bytes() for p in sorted(new.iterdir())]

    def wait_for_mail(self, address: str, count: int = 1, timeout: float = 20.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages(address)
            if len(got) >= count:
                return got
            time.sleep(0.1)
        log = self.maillog.read_text(errors="replace")[-1500:] if self.maillog.exists() else ""
        raise AssertionError(f"no mail for {address} after {timeout}s; maillog:\n{log}")

    def log_text(self) -> str:
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""
