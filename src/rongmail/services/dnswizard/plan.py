"""Compute the full DNS record set of a mail domain, with a reason for each record.

Pure: input in, records out. Names are absolute (trailing dot). Values are in master-file
presentation format, so the zone exporter, the checker (which parses them with dnspython) and
the pushers share one representation.

Records (each cites the RFC that asks for it):

* MX (RFC 5321 §5.1) — one per mail host; several hosts or sites get increasing preferences,
  and an HA plan adds every site's hosts so mail queues at the other site during an outage.
* A/AAAA for every mail host, ``mta-sts``, ``autoconfig``/``autodiscover`` names.
* SPF (RFC 7208) — ``mx`` plus configured relays (ip4/ip6/include), ending ``-all`` once DMARC
  enforces, ``~all`` before.
* DKIM (RFC 6376 §3.6.2, RFC 8463) — one TXT per selector (RSA-2048 and Ed25519); during a
  rotation the old selectors stay published (overlap) until their retirement date.
* DMARC (RFC 7489 §6.3) — staged: ``none`` → ``quarantine`` (pct ramp) → ``reject``, reports
  to a built-in mailbox.
* MTA-STS (RFC 8461 §3.1) — ``_mta-sts`` TXT with a policy id; the policy file itself is served
  at ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` (:func:`mta_sts_policy`).
* TLS-RPT (RFC 8460 §3) — ``_smtp._tls`` TXT.
* SRV (RFC 6186, RFC 8314 §5.1, RFC 6764) — submission(s), imap(s), pop3(s), caldavs,
  carddavs; ``_autodiscover._tcp`` for Outlook.
* CAA (RFC 8659) — who may issue certificates for the domain.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

DmarcStage = Literal["none", "quarantine", "reject"]


@dataclass(frozen=True, slots=True)
class MailHost:
    name: str  # e.g. "mail.example.com"
    ipv4: tuple[str, ...] = ()
    ipv6: tuple[str, ...] = ()
    site: str = "main"  # HA: hosts of the same site share an MX preference


@dataclass(frozen=True, slots=True)
class DkimSelector:
    selector: str
    txt: str  # "v=DKIM1; k=rsa; p=..."
    retiring: bool = False  # still published during rotation overlap


@dataclass(frozen=True)
class PlanInput:
    domain: str  # A-label, no trailing dot
    hosts: tuple[MailHost, ...]
    dkim: tuple[DkimSelector, ...] = ()
    relays_ip4: tuple[str, ...] = ()
    relays_ip6: tuple[str, ...] = ()
    relay_includes: tuple[str, ...] = ()  # e.g. "spf.relay.example"
    dmarc_stage: DmarcStage = "none"
    dmarc_pct: int = 100
    report_mailbox: str = ""  # default dmarc-reports@<domain>
    tls_report_mailbox: str = ""  # default tls-reports@<domain>
    mta_sts_mode: Literal["testing", "enforce", "none"] = "testing"
    mta_sts_id: str = ""  # default: time based
    web_host: str = ""  # host serving HTTPS (webmail, MTA-STS policy, autoconfig); default hosts[0]
    caa_issuers: tuple[str, ...] = ("letsencrypt.org",)
    caa_iodef: str = ""
    ttl: int = 3600
    ha: bool = False
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Record:
    name: str  # absolute, trailing dot
    rtype: str
    value: str  # presentation format
    ttl: int
    #: catalogue key of the explanation ("dns.why.mx")
    why: str
    #: records the wizard owns; others (A of an existing web host) are advisory only
    managed: bool = True

    def key(self) -> tuple[str, str]:
        return self.name.lower(), self.rtype


def _parse(rtype: str, value: str):  # type: ignore[no-untyped-def]
    """Parse presentation-format rdata (dnspython) for comparisons."""
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), value)


def fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def txt_value(text: str) -> str:
    """Quote a TXT value, split into ≤255-octet character-strings (RFC 1035 §3.3.14)."""
    raw = text.encode()
    parts = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    return " ".join('"' + p.decode().replace("\\", "\\\\").replace('"', '\\"') + '"'
                    for p in parts)


def spf_text(p: PlanInput) -> str:
    terms = ["v=spf1", "mx"]
    terms += [f"ip4:{ip}" for ip in p.relays_ip4]
    terms += [f"ip6:{ip}" for ip in p.relays_ip6]
    terms += [f"include:{inc}" for inc in p.relay_includes]
    terms.append("-all" if p.dmarc_stage != "none" else "~all")
    return " ".join(terms)


def dmarc_text(p: PlanInput) -> str:
    rua = p.report_mailbox or f"dmarc-reports@{p.domain}"
    parts = [f"v=DMARC1; p={p.dmarc_stage}"]
    if p.dmarc_stage == "quarantine" and p.dmarc_pct < 100:
        parts.append(f"pct={p.dmarc_pct}")
    parts += [f"rua=mailto:{rua}", "adkim=r", "aspf=r", "fo=1"]
    return "; ".join(parts)


def mta_sts_id(p: PlanInput) -> str:
    return p.mta_sts_id or time.strftime("%Y%m%d%H%M%S", time.gmtime())


def mta_sts_policy(p: PlanInput, *, max_age: int = 604800) -> str:
    """The policy file (RFC 8461 §3.2), CRLF line endings."""
    lines = ["version: STSv1", f"mode: {p.mta_sts_mode}"]
    lines += [f"mx: {h.name}" for h in p.hosts]
    lines.append(f"max_age: {max_age}")
    return "\r\n".join(lines) + "\r\n"


def next_dmarc_stage(stage: DmarcStage, pct: int) -> tuple[DmarcStage, int]:
    """The staged rollout: none → quarantine 25% → 50% → 100% → reject."""
    if stage == "none":
        return "quarantine", 25
    if stage == "quarantine" and pct < 100:
        return "quarantine", min(100, pct * 2)
    return "reject", 100


def build_plan(p: PlanInput) -> list[Record]:
    if not p.hosts:
        raise ValueError("a plan needs at least one mail host")
    d = fqdn(p.domain)
    ttl = p.ttl
    out: list[Record] = []
    # MX: one preference per site (primary site first), hosts of a site share it
    sites: list[str] = []
    for h in p.hosts:
        if h.site not in sites:
            sites.append(h.site)
    for h in p.hosts:
        pref = 10 * (sites.index(h.site) + 1)
        out.append(Record(d, "MX", f"{pref} {fqdn(h.name)}", ttl, "dns.why.mx"))
    seen_hosts: set[str] = set()
    for h in p.hosts:
        if h.name in seen_hosts:
            continue
        seen_hosts.add(h.name)
        for ip in h.ipv4:
            out.append(Record(fqdn(h.name), "A", ip, ttl, "dns.why.a_mail"))
        for ip in h.ipv6:
            out.append(Record(fqdn(h.name), "AAAA", ip, ttl, "dns.why.a_mail"))
    web = fqdn(p.web_host or p.hosts[0].name)
    out.append(Record(d, "TXT", txt_value(spf_text(p)), ttl, "dns.why.spf"))
    for s in p.dkim:
        out.append(Record(f"{s.selector}._domainkey.{d}", "TXT", txt_value(s.txt), ttl,
                          "dns.why.dkim_retiring" if s.retiring else "dns.why.dkim"))
    out.append(Record(f"_dmarc.{d}", "TXT", txt_value(dmarc_text(p)), ttl, "dns.why.dmarc"))
    if p.mta_sts_mode != "none":
        out.append(Record(f"_mta-sts.{d}", "TXT", txt_value(f"v=STSv1; id={mta_sts_id(p)}"),
                          ttl, "dns.why.mta_sts"))
        out.append(Record(f"mta-sts.{d}", "CNAME", web, ttl, "dns.why.mta_sts_host"))
    tls_rua = p.tls_report_mailbox or f"tls-reports@{p.domain}"
    out.append(Record(f"_smtp._tls.{d}", "TXT", txt_value(f"v=TLSRPTv1; rua=mailto:{tls_rua}"),
                      ttl, "dns.why.tlsrpt"))
    mail = fqdn(p.hosts[0].name)
    for svc, port, why in (("_submissions._tcp", 465, "dns.why.srv_submissions"),
                           ("_submission._tcp", 587, "dns.why.srv_submission"),
                           ("_imaps._tcp", 993, "dns.why.srv_imaps"),
                           ("_imap._tcp", 143, "dns.why.srv_imap"),
                           ("_pop3s._tcp", 995, "dns.why.srv_pop3s"),
                           ("_pop3._tcp", 110, "dns.why.srv_pop3"),
                           ("_caldavs._tcp", 443, "dns.why.srv_caldav"),
                           ("_carddavs._tcp", 443, "dns.why.srv_carddav"),
                           ("_autodiscover._tcp", 443, "dns.why.srv_autodiscover")):
        # RFC 6186 §3.4 / RFC 8314 §5.1: prefer implicit TLS (priority 0) over STARTTLS (5)
        prio = 5 if svc in ("_submission._tcp", "_imap._tcp", "_pop3._tcp") else 0
        target = web if port == 443 else mail
        out.append(Record(f"{svc}.{d}", "SRV", f"{prio} 1 {port} {target}", ttl, why))
    for name in ("autoconfig", "autodiscover"):
        out.append(Record(f"{name}.{d}", "CNAME", web, ttl, f"dns.why.{name}"))
    for issuer in p.caa_issuers:
        out.append(Record(d, "CAA", f'0 issue "{issuer}"', ttl, "dns.why.caa"))
    if p.caa_iodef:
        out.append(Record(d, "CAA", f'0 iodef "{p.caa_iodef}"', ttl, "dns.why.caa"))
    return out


def ha_notes(p: PlanInput) -> list[str]:
    """Catalogue keys of the failover notes for multi-node and two-site plans."""
    notes = []
    if len({h.site for h in p.hosts}) > 1:
        notes.append("dns.ha.two_sites")
    if len(p.hosts) > 1:
        notes.append("dns.ha.shared_store")
    if any(len(h.ipv4) > 1 for h in p.hosts):
        notes.append("dns.ha.split_a")
    return notes
