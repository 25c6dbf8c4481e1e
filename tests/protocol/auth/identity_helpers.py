"""Clients bound to a chosen 127.0.0.0/8 source address and a small country database for
the identity wire tests (imported by name: conftest modules are not importable)."""

from __future__ import annotations

import http.client
import http.server
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.conftest import RunningServer

#: one /24 per country; 127.0.0.x are "home" addresses in China
HOME = [f"127.0.0.{i}" for i in range(1, 40)]
US, JP, DE = "127.0.2.1", "127.0.3.1", "127.0.4.1"
COUNTRIES = {**{ip: "CN" for ip in HOME}, US: "US", JP: "JP", DE: "DE",
             **{f"127.0.9.{i}": "CN" for i in range(1, 60)},
             **{f"127.0.10.{i}": "RU" for i in range(1, 60)}}


def write_country_mmdb(path: Path, countries: dict[str, str] = COUNTRIES) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    w = MMDBWriter(ip_version=6, database_type="geo-whois-asn-country", ipv4_compatible=True)
    for ip, cc in countries.items():
        w.insert_network(IPSet([f"{ip}/32"]), {"country_code": cc})
    w.to_db_file(str(path))
    return path


@dataclass
class Hooks:
    port: int
    received: list[dict[str, Any]] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)






def tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# -- clients bound to a source address ---------------------------------------------------------

@dataclass
class Web:
    """A browser: one source address, a cookie jar of one session cookie, the CSRF token."""

    srv: RunningServer
    ip: str
    ua: str = "Mozilla/5.0 (X11; Linux x86_64) RongMailTest"
    cookie: str = ""
    csrf: str = ""

    def call(self, method: str, path: str, body: Any = None, *, cookie: str | None = None
             ) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.ports["http"], timeout=30,
                                          source_address=(self.ip, 0))
        headers = {"User-Agent": self.ua, "Accept-Language": "en"}
        jar = self.cookie if cookie is None else cookie
        if jar:
            headers["Cookie"] = f"rongmail_session={jar}"
        if self.csrf and method not in ("GET", "HEAD"):
            headers["X-CSRF-Token"] = self.csrf
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        conn.close()
        for part in hdrs.get("set-cookie", "").split(","):
            if part.strip().startswith("rongmail_session="):
                self.cookie = part.strip().split(";")[0].split("=", 1)[1]
        ctype = hdrs.get("content-type", "")
        return resp.status, hdrs, (json.loads(raw) if "json" in ctype and raw else raw)

    def login(self, user: str, password: str) -> tuple[int, Any]:
        status, _, body = self.call("POST", "/api/login", {"username": user,
                                                           "password": password})
        if status == 200:
            self.csrf = body["csrfToken"]
        return status, body

    def step_up(self, ticket: str, code: str) -> tuple[int, Any]:
        status, _, body = self.call("POST", "/api/login/step-up", {"ticket": ticket,
                                                                   "code": code})
        if status == 200:
            self.csrf = body["csrfToken"]
        return status, body


def imap_login(srv: RunningServer, ip: str, user: str, password: str) -> str:
    """One IMAPS connection from ``ip``: LOGIN; returns the tagged reply line."""
    raw = socket.create_connection(("127.0.0.1", srv.ports["imaps"]), timeout=30,
                                   source_address=(ip, 0))
    with tls().wrap_socket(raw) as s:
        f = s.makefile("rb")
        f.readline()  # greeting
        s.sendall(f'a1 LOGIN "{user}" "{password}"\r\n'.encode())
        while True:
            line = f.readline().decode(errors="replace")
            if not line:
                return "(closed)"
            if line.startswith("a1 "):
                reply = line.strip()
                break
        try:
            s.sendall(b"a2 LOGOUT\r\n")
        except OSError:
            pass
        return reply


def smtp_login(srv: RunningServer, ip: str, user: str, password: str) -> tuple[int, str]:
    import smtplib

    with smtplib.SMTP_SSL("127.0.0.1", srv.ports["submissions"], timeout=30,
                          source_address=(ip, 0), context=tls()) as c:
        c.ehlo("client.test")
        c.user, c.password = user, password
        try:
            code, msg = c.auth("PLAIN", c.auth_plain)  # exactly one attempt
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code, e.smtp_error.decode(errors="replace")
        except smtplib.SMTPResponseException as e:
            return e.smtp_code, e.smtp_error.decode(errors="replace")
        return code, msg.decode(errors="replace")
