"""Client auto-configuration, so Outlook, Apple Mail, Thunderbird, Foxmail and phones set
themselves up from an address and a password:

* Thunderbird autoconfig (``/.well-known/autoconfig/mail/config-v1.1.xml`` and
  ``/mail/config-v1.1.xml`` on ``autoconfig.<domain>``), the clientConfig v1.1 format;
* Outlook autodiscover POX (``POST /autodiscover/autodiscover.xml``, MS-OXDSCLI) and the JSON
  v2 endpoint (``/autodiscover/autodiscover.json/v1.0/<email>?Protocol=...``);
* an Apple configuration profile (``/apple/mail.mobileconfig?email=``) with mail, CalDAV and
  CardDAV payloads (a plist; unsigned);
* the MTA-STS policy (``/.well-known/mta-sts.txt`` on ``mta-sts.<domain>``, RFC 8461 §3.2).

Values come from the running listeners (host name and ports), so what clients are told always
matches what is served. Only domains we host are answered (no probing of others).
"""

from __future__ import annotations

import plistlib
import uuid
from xml.sax.saxutils import escape

from aiohttp import web

from rongmail.core.address import normalize_address, split_address
from rongmail.errors import MailError
from rongmail.protocols.http.server import DEPS_KEY, HttpDeps
from rongmail.services.dnswizard.plan import MailHost, PlanInput, mta_sts_policy

MAX_BODY = 16 * 1024


def _ports(deps: HttpDeps) -> dict[str, int]:
    return {k: p for k, (_h, p) in deps.settings.listeners.enabled().items()}


async def _hosted_domain(request: web.Request, email: str | None) -> tuple[str, str] | None:
    deps = request.app[DEPS_KEY]
    if email:
        try:
            addr = normalize_address(email)
        except MailError:
            return None
        dom = split_address(addr)[1]
    else:
        host = (request.host or "").split(":")[0].lower()
        for prefix in ("autoconfig.", "autodiscover.", "mta-sts."):
            if host.startswith(prefix):
                host = host[len(prefix):]
        dom, addr = host, ""
    if await deps.reader.domain(dom) is None:
        return None
    return dom, addr


def thunderbird_xml(deps: HttpDeps, domain: str) -> str:
    host = deps.settings.server.hostname
    ports = _ports(deps)
    servers = []

    def server(kind: str, tag: str, port: int, socket: str) -> str:
        return (f'    <{tag} type="{kind}">\n      <hostname>{escape(host)}</hostname>\n'
                f"      <port>{port}</port>\n      <socketType>{socket}</socketType>\n"
                "      <authentication>password-cleartext</authentication>\n"
                "      <username>%EMAILADDRESS%</username>\n"
                f"    </{tag}>")

    for name, kind, tag, sock in (("imaps", "imap", "incomingServer", "SSL"),
                                  ("imap", "imap", "incomingServer", "STARTTLS"),
                                  ("pop3s", "pop3", "incomingServer", "SSL"),
                                  ("pop3", "pop3", "incomingServer", "STARTTLS"),
                                  ("submissions", "smtp", "outgoingServer", "SSL"),
                                  ("submission", "smtp", "outgoingServer", "STARTTLS")):
        if name in ports:
            servers.append(server(kind, tag, ports[name], sock))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">\n'
            f'  <emailProvider id="{escape(domain)}">\n    <domain>{escape(domain)}</domain>\n'
            f"    <displayName>{escape(domain)}</displayName>\n"
            f"    <displayShortName>{escape(domain)}</displayShortName>\n"
            + "\n".join(servers) + "\n  </emailProvider>\n</clientConfig>\n")


async def thunderbird(request: web.Request) -> web.Response:
    found = await _hosted_domain(request, request.query.get("emailaddress"))
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(text=thunderbird_xml(request.app[DEPS_KEY], found[0]),
                        content_type="application/xml")


def outlook_xml(deps: HttpDeps, email: str) -> str:
    host = deps.settings.server.hostname
    ports = _ports(deps)
    protos = []
    for name, typ, ssl in (("imaps", "IMAP", "on"), ("pop3s", "POP3", "on"),
                           ("submissions", "SMTP", "on"), ("submission", "SMTP", "off")):
        if name in ports:
            enc = "" if ssl == "on" else "<Encryption>TLS</Encryption>"
            protos.append(f"<Protocol><Type>{typ}</Type><Server>{escape(host)}</Server>"
                          f"<Port>{ports[name]}</Port><LoginName>{escape(email)}</LoginName>"
                          f"<SPA>off</SPA><SSL>{ssl}</SSL>{enc}<AuthRequired>on</AuthRequired>"
                          "</Protocol>")
            if typ == "SMTP":
                break
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">'
            '<Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">'
            "<Account><AccountType>email</AccountType><Action>settings</Action>"
            + "".join(protos) + "</Account></Response></Autodiscover>\n")


def _pox_email(body: bytes) -> str | None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)  # noqa: S314 - bounded body, no entities expanded by ET
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.tag.endswith("EMailAddress") and el.text:
            return el.text.strip()
    return None


async def outlook_pox(request: web.Request) -> web.Response:
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise web.HTTPBadRequest()
    email = _pox_email(body) if request.method == "POST" else request.query.get("email")
    found = await _hosted_domain(request, email)
    if found is None or not found[1]:
        raise web.HTTPNotFound()
    return web.Response(text=outlook_xml(request.app[DEPS_KEY], found[1]),
                        content_type="application/xml")


async def outlook_json(request: web.Request) -> web.Response:
    """Autodiscover v2: ``{"Protocol": ..., "Url": ...}`` for the requested protocol."""
    email = request.match_info.get("email", "")
    found = await _hosted_domain(request, email)
    if found is None:
        raise web.HTTPNotFound()
    proto = request.query.get("Protocol", "AutodiscoverV1")
    base = f"https://{request.host}"
    if proto.lower() == "autodiscoverv1":
        return web.json_response({"Protocol": "AutodiscoverV1",
                                  "Url": f"{base}/autodiscover/autodiscover.xml"})
    raise web.HTTPNotFound()


def apple_profile(deps: HttpDeps, email: str, display: str = "") -> bytes:
    host = deps.settings.server.hostname
    ports = _ports(deps)
    domain = split_address(email)[1]
    ident = f"cn.rongmail.{domain}"
    incoming = ports.get("imaps") or ports.get("imap") or 993
    outgoing = ports.get("submissions") or ports.get("submission") or 465
    http_port = ports.get("https") or 443

    def payload(kind: str, extra: dict[str, object]) -> dict[str, object]:
        return {"PayloadType": kind, "PayloadVersion": 1,
                "PayloadIdentifier": f"{ident}.{kind.rsplit('.', 1)[-1]}",
                "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{email}/{kind}")).upper(),
                **extra}

    content = [
        payload("com.apple.mail.managed", {
            "EmailAccountType": "EmailTypeIMAP", "EmailAddress": email,
            "EmailAccountDescription": domain, "EmailAccountName": display or email,
            "IncomingMailServerHostName": host, "IncomingMailServerPortNumber": incoming,
            "IncomingMailServerUseSSL": "imaps" in ports,
            "IncomingMailServerUsername": email,
            "IncomingMailServerAuthentication": "EmailAuthPassword",
            "OutgoingMailServerHostName": host, "OutgoingMailServerPortNumber": outgoing,
            "OutgoingMailServerUseSSL": True, "OutgoingMailServerUsername": email,
            "OutgoingMailServerAuthentication": "EmailAuthPassword",
            "OutgoingPasswordSameAsIncomingPassword": True}),
        payload("com.apple.caldav.account", {
            "CalDAVAccountDescription": domain, "CalDAVHostName": host,
            "CalDAVPort": http_port, "CalDAVUseSSL": True, "CalDAVUsername": email}),
        payload("com.apple.carddav.account", {
            "CardDAVAccountDescription": domain, "CardDAVHostName": host,
            "CardDAVPort": http_port, "CardDAVUseSSL": True, "CardDAVUsername": email}),
    ]
    profile = {"PayloadType": "Configuration", "PayloadVersion": 1,
               "PayloadIdentifier": ident, "PayloadDisplayName": domain,
               "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, email)).upper(),
               "PayloadContent": content}
    return plistlib.dumps(profile)


async def apple(request: web.Request) -> web.Response:
    found = await _hosted_domain(request, request.query.get("email"))
    if found is None or not found[1]:
        raise web.HTTPNotFound()
    body = apple_profile(request.app[DEPS_KEY], found[1])
    return web.Response(body=body, content_type="application/x-apple-aspen-config", headers={
        "Content-Disposition": f'attachment; filename="{found[0]}.mobileconfig"'})


async def mta_sts(request: web.Request) -> web.Response:
    found = await _hosted_domain(request, None)
    if found is None:
        raise web.HTTPNotFound()
    deps = request.app[DEPS_KEY]
    mode = deps.extra.get("mta_sts_mode", "testing")
    policy = mta_sts_policy(PlanInput(domain=found[0], hosts=(
        MailHost(deps.settings.server.hostname),), mta_sts_mode=mode))
    return web.Response(text=policy, content_type="text/plain")


def register(app: web.Application, deps: HttpDeps) -> None:
    r = app.router
    r.add_get("/.well-known/autoconfig/mail/config-v1.1.xml", thunderbird)
    r.add_get("/mail/config-v1.1.xml", thunderbird)
    r.add_route("*", "/autodiscover/autodiscover.xml", outlook_pox)
    r.add_route("*", "/Autodiscover/Autodiscover.xml", outlook_pox)
    r.add_get("/autodiscover/autodiscover.json/v1.0/{email}", outlook_json)
    r.add_get("/apple/mail.mobileconfig", apple)
    r.add_get("/.well-known/mta-sts.txt", mta_sts)
