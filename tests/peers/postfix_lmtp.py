"""Postfix → LMTP → Dovecot on loopback: the classic open-source mail stack, as a peer.

:class:`PostfixLmtpStack` starts a private :class:`peers.dovecot.DovecotServer` (mdbox by
default, LMTP on TCP) and a private :class:`peers.postfix.PostfixServer` (own
config_directory, queue_directory, log; ``smtpd`` on ``127.0.0.x:<port>``) whose
``virtual_transport`` hands every accepted message for ``domain`` to Dovecot's LMTP listener.

``peers/postfix.py`` (owned by the relay tests) is reused unchanged: its ``master.cf`` has no
``lmtp`` service, so after it starts we add one with ``postconf -M`` and ``postfix reload``.
Mail ends up in Dovecot; count it with :meth:`count` / :meth:`wait_for_count`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from types import TracebackType

from peers import PeerUnavailable
from peers.dovecot import DovecotServer
from peers.postfix import PostfixServer

LMTP_SERVICE = "lmtp/unix=lmtp unix - - n - - lmtp"


class PostfixLmtpStack:
    def __init__(
        self,
        *,
        smtp_address: str = "127.0.0.31",
        smtp_port: int | None = None,
        dovecot_address: str = "127.0.0.41",
        domain: str = "peer.test",
        users: Mapping[str, str] | None = None,
        mail_format: str = "mdbox",
        postfix_extra: Mapping[str, str] | None = None,
        dovecot_extra: Mapping[str, str] | None = None,
    ) -> None:
        self.domain = domain.lower()
        self.users = dict(users or {f"bench@{self.domain}": "secret"})
        self.dovecot = DovecotServer(
            address=dovecot_address, users=self.users, mail_format=mail_format, extra=dovecot_extra
        )
        self._smtp_address = smtp_address
        self._smtp_port = smtp_port
        self._postfix_extra = dict(postfix_extra or {})
        self.postfix: PostfixServer | None = None

    @property
    def address(self) -> str:
        assert self.postfix is not None
        return self.postfix.address

    @property
    def port(self) -> int:
        assert self.postfix is not None
        return self.postfix.port

    def start(self) -> PostfixLmtpStack:
        self.dovecot.start()
        try:
            local_parts: Sequence[str] = [
                u.split("@", 1)[0] for u in self.users if u.lower().endswith("@" + self.domain)
            ]
            extra = {
                "virtual_transport": f"lmtp:inet:{self.dovecot.address}:{self.dovecot.lmtp_port}",
                # the stock defaults, spelled out so a reader sees what is compared
                "lmtp_destination_concurrency_limit": "20",
                "smtpd_client_connection_count_limit": "0",
                "smtpd_client_message_rate_limit": "0",
                "anvil_rate_time_unit": "60s",
                "in_flow_delay": "0s",
            }
            extra.update(self._postfix_extra)
            self.postfix = PostfixServer(
                address=self._smtp_address,
                port=self._smtp_port,
                domains=[self.domain],
                users=local_parts,
                extra=extra,
            )
            self.postfix.start()
            conf = str(self.postfix.conf)
            for cmd in (
                ["postconf", "-c", conf, "-M", LMTP_SERVICE],
                ["postfix", "-c", conf, "reload"],
            ):
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
                if proc.returncode != 0:
                    raise PeerUnavailable(f"{' '.join(cmd)} failed: {proc.stderr[-500:]}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.postfix is not None:
            self.postfix.stop()
            self.postfix = None
        self.dovecot.stop()

    def __enter__(self) -> PostfixLmtpStack:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- inspection -----------------------------------------------------------------------------
    def count(self, user: str | None = None, mailbox: str = "INBOX") -> int:
        return self.dovecot.count(user or next(iter(self.users)), mailbox)

    def wait_for_count(
        self, n: int, *, user: str | None = None, timeout: float = 600, interval: float = 0.25
    ) -> float:
        return self.dovecot.wait_for_count(
            user or next(iter(self.users)), n, timeout=timeout, interval=interval
        )

    def queue_size(self) -> int:
        """Messages still in Postfix's queue (``postqueue -j`` lines)."""
        assert self.postfix is not None
        proc = subprocess.run(["postqueue", "-c", str(self.postfix.conf), "-j"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        return len([line for line in proc.stdout.splitlines() if line.strip()])

    def log_text(self) -> str:
        pf = self.postfix.log_text() if self.postfix is not None else ""
        return pf + "\n--- dovecot ---\n" + self.dovecot.log_text()
