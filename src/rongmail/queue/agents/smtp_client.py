"""One outbound SMTP transaction to one address, on aiosmtplib (shared by the remote and relay
agents).

Role: connect (from a chosen source address, to an address we resolved ourselves), greet,
negotiate TLS according to a :class:`TlsMode`, authenticate if the route says so, then send
MAIL / RCPT... / DATA and turn every reply into a per-recipient outcome.

Invariants:

* Replies map to states by their first digit (RFC 5321 §4.2.1): 2yz delivered, 4yz deferred,
  5yz failed. A failure before any recipient was answered (connect, greeting, TLS, AUTH, MAIL
  4yz) raises :class:`HostFailure` so the caller tries the next host; MAIL 5yz fails all.
* TLS policy is never silently weakened: in ``VERIFY``/``DANE``/``REQUIRE`` mode a missing
  STARTTLS or a failed handshake or check is a :class:`HostFailure`; only ``OPPORTUNISTIC``
  falls back to plaintext (the caller retries with ``NONE``, RFC 3207 §4 / RFC 7435).
* SMTPUTF8 mail is not sent to a server that lacks the extension (RFC 6531 §3.4: 5.6.7);
  ``BODY=8BITMIME`` is declared when the body has 8-bit octets (RFC 6152).
* Passwords are passed to aiosmtplib only; they never appear in outcomes or logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiosmtplib
from aiosmtplib import SMTPResponse

from rongmail.queue import dane
from rongmail.queue.agents.base import Outcome
from rongmail.services.dns import TlsaRecord


class TlsMode(enum.Enum):
    NONE = "none"  # never STARTTLS
    OPPORTUNISTIC = "opportunistic"  # STARTTLS if offered, no verification (RFC 7435)
    REQUIRE = "require"  # TLS mandatory, no authentication (DANE with DANE-TA only)
    VERIFY = "verify"  # TLS mandatory, PKIX + host name (MTA-STS enforce, relays)
    DANE = "dane"  # TLS mandatory, DANE-EE match (RFC 7672)


@dataclass(frozen=True, slots=True)
class HostTarget:
    host: str  # the name we verify against and use for SNI
    address: str
    port: int
    tls: TlsMode
    implicit_tls: bool = False
    tlsa: tuple[TlsaRecord, ...] = ()
    username: str = ""
    password: str = field(default="", repr=False)
    source_ip: str = ""


@dataclass(frozen=True, slots=True)
class OutRecipient:
    id: int
    address: str
    notify: str | None = None
    orcpt: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    mail_from: str
    recipients: Sequence[OutRecipient]
    data: bytes
    smtputf8: bool = False
    body_8bit: bool = False
    envid: str | None = None
    ret: str | None = None


class HostFailure(Exception):
    """This host could not take the message now; try the next one."""

    def __init__(self, reply: str, *, code: int | None = None, status: str = "4.4.1",
                 permanent: bool = False) -> None:  # fmt: skip
        super().__init__(reply)
        self.reply = reply
        self.code = code
        self.status = status
        self.permanent = permanent


_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")


def enhanced_status(code: int, text: str, default_detail: str = "0.0") -> str:
    """RFC 3463 status from a reply: the one the server gave (RFC 2034), else derived."""
    m = _STATUS.match(text.strip())
    if m and m.group(1) == str(code)[0]:
        return m.group(0)
    return f"{str(code)[0]}.{default_detail}"


def state_of(code: int) -> str:
    return "delivered" if 200 <= code < 300 else ("deferred" if code < 500 else "failed")


def tls_context(mode: TlsMode, ca_file: str = "") -> ssl.SSLContext:
    if mode is TlsMode.VERIFY:
        ctx = ssl.create_default_context(cafile=ca_file or None)
        if ca_file:
            ctx.load_default_certs()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8461 §4.2 / RFC 8996
        return ctx
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if mode in (TlsMode.DANE, TlsMode.REQUIRE):
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


async def _open_socket(target: HostTarget, timeout: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in target.address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        if target.source_ip:
            sock.bind((target.source_ip, 0))
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, (target.address, target.port)), timeout)
    except BaseException:
        sock.close()
        raise
    return sock


def _params(envelope: Envelope, smtp: aiosmtplib.SMTP, size: int) -> list[str]:
    opts: list[str] = []
    if smtp.supports_extension("size"):
        opts.append(f"SIZE={size}")
    if envelope.body_8bit and smtp.supports_extension("8bitmime"):
        opts.append("BODY=8BITMIME")
    if envelope.smtputf8:
        opts.append("SMTPUTF8")
    if smtp.supports_extension("dsn"):
        if envelope.ret:
            opts.append(f"RET={envelope.ret}")
        if envelope.envid:
            opts.append(f"ENVID={envelope.envid}")
    return opts


def _rcpt_params(r: OutRecipient, smtp: aiosmtplib.SMTP) -> list[str]:
    if not smtp.supports_extension("dsn"):
        return []
    opts = []
    if r.notify:
        opts.append(f"NOTIFY={r.notify}")
    if r.orcpt:
        opts.append(f"ORCPT={r.orcpt}")
    return opts


async def _start_tls(
    smtp: aiosmtplib.SMTP, target: HostTarget, ca_file: str, timeout: float
) -> None:
    if target.tls is TlsMode.NONE or target.implicit_tls:
        return
    if not smtp.supports_extension("starttls"):
        if target.tls is TlsMode.OPPORTUNISTIC:
            return
        raise HostFailure("STARTTLS not offered", status="4.7.4")
    try:
        await smtp.starttls(
            server_hostname=target.host, tls_context=tls_context(target.tls, ca_file),
            timeout=timeout,
        )  # fmt: skip
    except (ssl.SSLError, aiosmtplib.SMTPException, OSError) as e:
        raise HostFailure(f"TLS handshake failed: {e}", status="4.7.5") from e
    await smtp.ehlo()


def _check_dane(smtp: aiosmtplib.SMTP, target: HostTarget) -> None:
    if target.tls is not TlsMode.DANE:
        return
    ssl_object = smtp.get_transport_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        raise HostFailure("no server certificate", status="4.7.5")
    if dane.verify_leaf(der, target.tlsa) is False:
        raise HostFailure("certificate does not match TLSA records", status="4.7.5")


async def send_to_host(
    target: HostTarget,
    envelope: Envelope,
    *,
    helo: str,
    connect_timeout: float = 30.0,
    command_timeout: float = 300.0,
    ca_file: str = "",
) -> list[Outcome]:
    """Run one transaction; return one :class:`Outcome` per envelope recipient."""
    remote = f"{target.host}[{target.address}]:{target.port}"
    try:
        sock = await _open_socket(target, connect_timeout)
    except (OSError, TimeoutError) as e:
        raise HostFailure(f"connect to {remote} failed: {e}", status="4.4.1") from e
    implicit_ctx = tls_context(target.tls, ca_file) if target.implicit_tls else None
    smtp = aiosmtplib.SMTP(
        hostname=target.host, local_hostname=helo, timeout=command_timeout, sock=sock,
        use_tls=target.implicit_tls, start_tls=False, tls_context=implicit_ctx,
        validate_certs=target.tls is TlsMode.VERIFY,
    )  # fmt: skip
    try:
        try:
            await smtp.connect()
            await smtp.ehlo()
        except aiosmtplib.SMTPResponseException as e:
            raise HostFailure(
                f"{remote}: {e.code} {e.message}",
                code=e.code,
                status=enhanced_status(e.code, e.message, "4.0"),
            ) from e
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as e:
            raise HostFailure(f"{remote}: {e}", status="4.4.2") from e
        await _start_tls(smtp, target, ca_file, command_timeout)
        _check_dane(smtp, target)
        if target.username:
            try:
                await smtp.login(target.username, target.password)
            except aiosmtplib.SMTPResponseException as e:
                raise HostFailure(
                    f"{remote}: AUTH failed: {e.code}",
                    code=e.code,
                    status="4.7.8" if e.code < 500 else "5.7.8",
                ) from e
            except aiosmtplib.SMTPException as e:
                raise HostFailure(f"{remote}: AUTH failed: {e}", status="4.7.8") from e
        return await _transaction(smtp, envelope, target.host)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as e:
        raise HostFailure(f"{remote}: {e}", status="4.4.2") from e
    finally:
        with contextlib.suppress(Exception):
            if smtp.is_connected:
                await asyncio.wait_for(smtp.quit(), 5)
        with contextlib.suppress(Exception):
            smtp.close()


async def _transaction(smtp: aiosmtplib.SMTP, envelope: Envelope, host: str) -> list[Outcome]:
    if envelope.smtputf8 and not smtp.supports_extension("smtputf8"):
        return [
            Outcome(r.id, "failed", 553, "5.6.7", "recipient server lacks SMTPUTF8", host)
            for r in envelope.recipients
        ]
    encoding = "utf-8" if envelope.smtputf8 else "ascii"
    try:
        await smtp.mail(envelope.mail_from, options=_params(envelope, smtp, len(envelope.data)),
                        encoding=encoding)  # fmt: skip
    except aiosmtplib.SMTPResponseException as e:
        status = enhanced_status(e.code, e.message, "0.0")
        if e.code >= 500:
            return [Outcome(r.id, "failed", e.code, status, f"{e.code} {e.message}", host)
                    for r in envelope.recipients]  # fmt: skip
        raise HostFailure(f"{host}: {e.code} {e.message}", code=e.code, status=status) from e
    accepted: list[OutRecipient] = []
    outcomes: dict[int, Outcome] = {}
    for r in envelope.recipients:
        try:
            await smtp.rcpt(r.address, options=_rcpt_params(r, smtp), encoding=encoding)
            accepted.append(r)
        except aiosmtplib.SMTPResponseException as e:
            outcomes[r.id] = Outcome(r.id, state_of(e.code), e.code,
                                     enhanced_status(e.code, e.message, "0.0"),
                                     f"{e.code} {e.message}", host)  # fmt: skip
    if accepted:
        try:
            resp: SMTPResponse = await smtp.data(envelope.data)
            code, text = resp.code, resp.message
        except aiosmtplib.SMTPResponseException as e:
            code, text = e.code, e.message
        for r in accepted:
            outcomes[r.id] = Outcome(r.id, state_of(code), code,
                                     enhanced_status(code, text, "0.0"), f"{code} {text}", host)  # fmt: skip
    else:
        with contextlib.suppress(aiosmtplib.SMTPException):
            await smtp.rset()
    return [outcomes[r.id] for r in envelope.recipients]
