"""Apply a plan to authoritative DNS by RFC 2136 dynamic update, signed with TSIG (RFC 8945).

``diff`` compares the plan with live DNS and with what RongMail created earlier (the
``owned`` set, persisted by the caller). Invariants:

* records RongMail did not create are never deleted; a conflicting foreign record (a second SPF
  TXT, a CNAME owned by someone else) is reported as a conflict for a human, not overwritten;
* one UPDATE message per push: all changes or none (RFC 2136 §3.4: the zone applies a message
  atomically), with a prerequisite-free delete of our own old values and adds of the new ones;
* the caller shows ``Diff`` before applying (``dry_run``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import dns.asyncquery
import dns.asyncresolver
import dns.name
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update

from rongmail.services.dnswizard.check import _family, _txt_join, lookup
from rongmail.services.dnswizard.plan import Record, _parse

Owned = set[tuple[str, str, str]]  # (name, rtype, value as rdata text)


@dataclass
class Diff:
    add: list[Record] = field(default_factory=list)
    remove: list[tuple[str, str, str]] = field(default_factory=list)  # our stale values
    conflicts: list[tuple[Record, str]] = field(default_factory=list)  # foreign value
    unchanged: list[Record] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove)


async def diff(records: Sequence[Record], res: dns.asyncresolver.Resolver, owned: Owned) -> Diff:
    out = Diff()
    by_key: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        if r.managed:
            by_key.setdefault(r.key(), []).append(r)
    for (name, rtype), planned in by_key.items():
        live, _ = await lookup(res, name, rtype)
        wanted = {_parse(rtype, r.value) for r in planned}
        for r in planned:
            if _parse(rtype, r.value) in live:
                out.unchanged.append(r)
            else:
                out.add.append(r)
        for rd in live:
            if rd in wanted:
                continue
            text = rd.to_text()
            if (name, rtype, text) in owned:
                out.remove.append((name, rtype, text))
                continue
            # a foreign value: a conflict only where it competes with ours
            fams = {_family(r) for r in planned}
            if rtype == "TXT" and _txt_join(rd).split(";", 1)[0].split(" ", 1)[0].lower() in fams:
                out.conflicts.append((planned[0], text))
            elif rtype == "CNAME":
                out.conflicts.append((planned[0], text))
    return out


def tsig_keyring(name: str, secret_b64: str) -> dict[dns.name.Name, dns.tsig.Key]:
    return dns.tsigkeyring.from_text({name: secret_b64})


async def apply(zone: str, d: Diff, *, server: str, port: int, keyname: str, secret_b64: str,
                algorithm: str = "hmac-sha256", timeout: float = 10.0) -> Owned:
    """Send one UPDATE with all changes. Returns the records now owned (added); raises
    RuntimeError with the rcode on refusal."""
    if d.empty:
        return set()
    upd = dns.update.UpdateMessage(zone, keyring=tsig_keyring(keyname, secret_b64),
                                   keyname=dns.name.from_text(keyname), keyalgorithm=algorithm)
    for name, rtype, value in d.remove:
        upd.delete(name, rtype, value)
    added: Owned = set()
    for r in d.add:
        upd.add(r.name, r.ttl, r.rtype, r.value)
        added.add((r.name.lower(), r.rtype, _parse(r.rtype, r.value).to_text()))
    resp = await dns.asyncquery.tcp(upd, server, port=port, timeout=timeout)
    if resp.rcode() != dns.rcode.NOERROR:
        raise RuntimeError(f"dynamic update refused: {dns.rcode.to_text(resp.rcode())}")
    return added
