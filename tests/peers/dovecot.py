"""A private Dovecot instance (Debian ``dovecot-imapd``/``-pop3d``/``-lmtpd``) for tests and
benchmarks: own ``base_dir``, config, state, log and mail homes in a fresh temp directory,
listening on a loopback address and unprivileged ports of our choice.

* mail storage: ``mdbox:~/mdbox`` by default (``mail_format="maildir"`` for ``Maildir``);
* users: a static ``passwd-file`` (``user@domain:{PLAIN}password``) for the passdb and a
  ``static`` userdb (every user's home is ``<base>/home/<user@domain>``);
* IMAP on ``address:imap_port``, LMTP on TCP ``address:lmtp_port`` (Postfix's
  ``lmtp:inet:...``) and on a unix socket ``<base>/run/lmtp``, POP3 when ``pop3=True``.

As root the master runs as root (as Debian's does), login processes as ``dovenull`` and mail
processes as ``nobody``; as an ordinary user every process runs as that user. ``doveadm()``
runs ``doveadm -c <our config>``, which talks to this instance only (its ``base_dir``).
``stop()`` signals this instance's master (pid file in its ``base_dir``), nothing else.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from peers import PeerUnavailable
from peers.apt import ensure
from peers.dns_server import free_port

PACKAGES = ("dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd")


class DovecotServer:
    def __init__(
        self,
        *,
        address: str = "127.0.0.40",
        imap_port: int | None = None,
        lmtp_port: int | None = None,
        pop3: bool = False,
        pop3_port: int | None = None,
        users: Mapping[str, str] | None = None,
        mail_format: str = "mdbox",
        fsync: str = "optimized",
        login_performance_mode: bool = False,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        self.address = address
        self.imap_port = imap_port or 0
        self.lmtp_port = lmtp_port or 0
        self.pop3 = pop3
        self.pop3_port = pop3_port or 0
        self.users = dict(users or {"bench@peer.test": "secret"})
        self.mail_format = mail_format
        self.fsync = fsync
        self.login_performance_mode = login_performance_mode
        self.extra = dict(extra or {})
        self.base = Path()
        self._started = False
        self._mail_ids = (os.geteuid(), os.getegid())  # set by start(): who owns the mail

    # -- paths ----------------------------------------------------------------------------------
    @property
    def conf(self) -> Path:
        return self.base / "dovecot.conf"

    @property
    def log(self) -> Path:
        return self.base / "dovecot.log"

    @property
    def lmtp_socket(self) -> Path:
        return self.base / "run" / "lmtp"

    def home(self, user: str) -> Path:
        return self.base / "home" / user.lower()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> DovecotServer:
        ensure(PACKAGES)
        if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
            raise PeerUnavailable("dovecot not installed")
        root = os.geteuid() == 0
        if root:
            try:
                mail_pw = pwd.getpwnam("nobody")
                pwd.getpwnam("dovenull")
                pwd.getpwnam("dovecot")
            except KeyError as e:
                raise PeerUnavailable(f"missing system user: {e}") from e
            mail_uid, mail_gid = mail_pw.pw_uid, mail_pw.pw_gid
            login_user, internal_user = "dovenull", "dovecot"
        else:
            me = pwd.getpwuid(os.geteuid())
            mail_uid, mail_gid = me.pw_uid, me.pw_gid
            login_user = internal_user = me.pw_name
        self._mail_ids = (mail_uid, mail_gid)
        for attr in ("imap_port", "lmtp_port") + (("pop3_port",) if self.pop3 else ()):
            if not getattr(self, attr):
                setattr(self, attr, free_port(self.address))
        self.base = Path(tempfile.mkdtemp(prefix="rongmail-dovecot-", dir="/tmp"))
        self.base.chmod(0o755)
        for sub in ("run", "state", "home"):
            (self.base / sub).mkdir(mode=0o755)
        os.chown(self.base / "home", mail_uid, mail_gid)
        (self.base / "users").write_text(
            "".join(f"{u.lower()}:{{PLAIN}}{p}\n" for u, p in self.users.items())
        )
        (self.base / "users").chmod(0o644)
        self.conf.write_text(self._config(mail_uid, mail_gid, login_user, internal_user, root))
        errfile = self.base / "start.err"
        with errfile.open("wb") as err:
            # the daemon keeps its inherited fds open: never give it a pipe we wait on
            proc = subprocess.run(
                ["dovecot", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=60,
            )
        if proc.returncode != 0:
            raise PeerUnavailable(
                f"dovecot start failed: "
                f"{errfile.read_text(errors='replace')[-800:]} "
                f"{self.log_text()[-800:]}"
            )
        self._started = True
        try:
            self._wait_listening(self.imap_port, b"* OK")
            self._wait_listening(self.lmtp_port, b"220")
            if self.pop3:
                self._wait_listening(self.pop3_port, b"+OK")
        except PeerUnavailable:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._started:
            pidfile = self.base / "run" / "master.pid"
            with contextlib.suppress(OSError, ValueError):
                pid = int(pidfile.read_text().strip())
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                    time.sleep(0.1)
            self._started = False
        if self.base != Path() and not os.environ.get("RONGMAIL_KEEP_PEERS"):
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _config(self, uid: int, gid: int, login_user: str, internal_user: str, root: bool) -> str:
        b = self.base
        protocols = ["imap", "lmtp"] + (["pop3"] if self.pop3 else [])
        mail_location = ("mdbox:~/mdbox" if self.mail_format == "mdbox"
                         else "maildir:~/Maildir" if self.mail_format == "maildir"
                         else self.mail_format)  # fmt: skip
        group = grp.getgrgid(gid).gr_name
        settings = {
            "instance_name": f"rongmail-{b.name}",
            "base_dir": str(b / "run"),
            "state_dir": str(b / "state"),
            "listen": self.address,
            "protocols": " ".join(protocols),
            "ssl": "no",
            "disable_plaintext_auth": "no",
            "auth_mechanisms": "plain login",
            "log_path": str(self.log),
            "mail_location": mail_location,
            "mail_uid": str(uid),
            "mail_gid": str(gid),
            "mail_privileged_group": "",
            "first_valid_uid": "0" if not root else str(min(uid, 500)),
            "first_valid_gid": "0",
            "default_login_user": login_user,
            "default_internal_user": internal_user,
            "mail_fsync": self.fsync,
            "postmaster_address": "postmaster@peer.test",
            "recipient_delimiter": "+",
            "lmtp_save_to_detail_mailbox": "no",
            "mmap_disable": "no",
        }
        if not root:
            settings["default_internal_group"] = group
        settings.update(self.extra)
        out = [f"{k} = {v}" for k, v in settings.items()]
        out.append(f"""
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {b / "users"}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={b / "home"}/%Lu
}}
service imap-login {{
  inet_listener imap {{
    address = {self.address}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  {"service_count = 0" if self.login_performance_mode else ""}
  process_min_avail = {2 if self.login_performance_mode else 0}
}}
service imap {{
  process_limit = 12000
}}
service lmtp {{
  inet_listener lmtp {{
    address = {self.address}
    port = {self.lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
""")
        if self.pop3:
            out.append(f"""
service pop3-login {{
  inet_listener pop3 {{
    address = {self.address}
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
""")
        return "\n".join(out) + "\n"

    def _wait_listening(self, port: int, greeting: bytes, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.address, port), timeout=2) as s:
                    if s.recv(256).startswith(greeting):
                        return
            except OSError:
                time.sleep(0.1)
        raise PeerUnavailable(
            f"dovecot is not listening on {self.address}:{port}; log: {self.log_text()[-800:]}"
        )

    # -- doveadm --------------------------------------------------------------------------------
    def doveadm(
        self, *args: str, input: bytes | None = None, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """``doveadm -c <config> args...`` against this instance."""
        proc = subprocess.run(["doveadm", "-c", str(self.conf), *args], input=input,
                              capture_output=True, timeout=timeout)  # fmt: skip
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"doveadm {' '.join(args)} failed ({proc.returncode}): "
                f"{proc.stderr.decode(errors='replace')[-800:]}"
            )
        return proc

    def save(self, user: str, raw: bytes, mailbox: str = "INBOX") -> None:
        self.doveadm("save", "-u", user, "-m", mailbox, input=raw)

    def import_maildir(
        self,
        user: str,
        maildir: Path,
        *,
        layout_fs: bool = True,
        dest_parent: str = "",
        timeout: float = 3600,
    ) -> None:
        """``doveadm import`` every folder of a Maildir (``LAYOUT=fs`` keeps ``a/b`` names).
        As root the Maildir is first given to the mail user (``nobody``), whom doveadm reads it
        as."""
        if os.geteuid() == 0:
            uid, gid = self._mail_ids
            os.chown(maildir, uid, gid)
            for top, dirs, files in os.walk(maildir):
                for name in dirs + files:
                    os.chown(os.path.join(top, name), uid, gid)
        loc = f"maildir:{maildir}" + (":LAYOUT=fs" if layout_fs else "")
        self.doveadm("import", "-s", "-u", user, loc, dest_parent, "all", timeout=timeout)

    def mailboxes(self, user: str) -> list[str]:
        out = self.doveadm("mailbox", "list", "-u", user).stdout.decode()
        return [line for line in out.splitlines() if line]

    def count(self, user: str, mailbox: str = "INBOX") -> int:
        """Messages in one mailbox (``*`` for all mailboxes), via ``doveadm mailbox status``."""
        proc = self.doveadm("-f", "flow", "mailbox", "status", "-u", user, "messages", mailbox,
                            check=False)  # fmt: skip
        if proc.returncode != 0:
            return 0
        total = 0
        for line in proc.stdout.decode().splitlines():
            for part in line.split():
                if part.startswith("messages="):
                    total += int(part.split("=", 1)[1])
        return total

    def wait_for_count(
        self,
        user: str,
        n: int,
        *,
        mailbox: str = "INBOX",
        timeout: float = 600,
        interval: float = 0.2,
    ) -> float:
        """Wait until ``mailbox`` holds at least ``n`` messages; monotonic time when it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(user, mailbox) >= n:
                return time.monotonic()
            time.sleep(interval)
        raise TimeoutError(f"{user} {mailbox}: fewer than {n} messages after {timeout}s")

    def search(self, user: str, query: Sequence[str], mailbox: str = "INBOX") -> list[str]:
        """``doveadm search`` → list of "guid uid" lines."""
        out = self.doveadm("search", "-u", user, "mailbox", mailbox, *query).stdout.decode()
        return [line for line in out.splitlines() if line]

    def rss_kb(self) -> int:
        """Total RSS (KiB) of this instance's processes (master and children)."""
        pidfile = self.base / "run" / "master.pid"
        try:
            master = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return 0
        total = 0
        children: dict[int, list[int]] = {}
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (d / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d.name))
        todo = [master]
        while todo:
            pid = todo.pop()
            todo.extend(children.get(pid, []))
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
