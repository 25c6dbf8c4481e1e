"""Direct delivery to a domain's MX hosts (RFC 5321 §5), with MTA-STS and DANE.

Per attempt, for one domain:

1. MX resolution (:meth:`DnsResolver.mx`): NXDOMAIN or no address -> 5.1.2; a null MX ->
   556 5.1.10 (RFC 7505 §4.2); a DNS timeout -> 4.4.3, retried later.
2. MTA-STS (RFC 8461): in ``enforce`` mode only MX hosts matching the policy are used, and with
   a PKIX-verified certificate for the MX name; no matching host -> 4.7.5 deferral.
3. DANE (RFC 7672): when the MX answer was DNSSEC-authenticated and the host has an
   authenticated TLSA RRset, TLS is mandatory and the certificate must match (DANE takes
   precedence over MTA-STS, RFC 8461 §2).
4. Otherwise opportunistic STARTTLS (RFC 7435); a failed handshake is retried in plaintext on the
   same address, as Postfix's ``may`` level does.

Hosts are tried in MX order, at most ``max_mx_hosts``, two addresses each; the first host that
answers the transaction decides the per-recipient outcomes.
"""

from __future__ import annotations

import logging

from rongmail.config.queue import QueueSettings
from rongmail.queue import dane
from rongmail.queue.agents.base import DeliveryJob, Outcome, all_outcomes
from rongmail.queue.agents.smtp_client import (
    Envelope,
    HostFailure,
    HostTarget,
    OutRecipient,
    TlsMode,
    send_to_host,
)
from rongmail.queue.mta_sts import MtaSts, StsPolicy
from rongmail.services.dns import DnsNameError, DnsResolver, DnsTemporaryError, TlsaRecord

log = logging.getLogger(__name__)

ADDRESSES_PER_HOST = 2


def envelope_of(job: DeliveryJob) -> Envelope:
    m = job.message
    return Envelope(
        mail_from=m.mail_from,
        recipients=[OutRecipient(r.id, r.rcpt, r.notify, r.orcpt) for r in job.recipients],
        data=job.data,
        smtputf8=m.smtputf8,
        body_8bit=m.body_8bit,
        envid=m.envid,
        ret=m.ret,
    )


class RemoteSmtpAgent:
    def __init__(
        self,
        resolver: DnsResolver,
        settings: QueueSettings,
        *,
        helo: str,
        mta_sts: MtaSts | None = None,
    ) -> None:
        self.resolver = resolver
        self.settings = settings
        self.helo = helo
        self.mta_sts = mta_sts if settings.mta_sts else None

    async def _policy(self, domain: str) -> StsPolicy | None:
        if self.mta_sts is None:
            return None
        try:
            policy = await self.mta_sts.policy(domain)
        except Exception:  # a policy problem must never stop mail; it only loses STS
            log.exception("MTA-STS lookup for %s failed", domain)
            return None
        if policy is not None and policy.mode == "testing":
            log.info("MTA-STS testing policy for %s (not enforced)", domain)
        return policy if policy is not None and policy.mode == "enforce" else None

    async def _tls_for(
        self, host: str, mx_secure: bool
    ) -> tuple[TlsMode, tuple[TlsaRecord, ...]] | HostFailure:
        if not (self.settings.dane and mx_secure):
            return TlsMode.OPPORTUNISTIC, ()
        try:
            records, secure = await self.resolver.tlsa_records(host, self.settings.remote_port)
        except DnsTemporaryError:
            # RFC 7672 §2.2: a failed TLSA lookup for a secure host means "do not use it".
            return HostFailure(f"TLSA lookup for {host} failed", status="4.7.5")
        except DnsNameError:
            return TlsMode.OPPORTUNISTIC, ()
        if not (secure and records):
            return TlsMode.OPPORTUNISTIC, ()
        usable = dane.usable(records)
        if any(r.usage == dane.USAGE_DANE_EE for r in usable):
            return TlsMode.DANE, tuple(usable)
        return TlsMode.REQUIRE, tuple(usable)

    async def deliver(self, job: DeliveryJob) -> list[Outcome]:
        domain = job.recipients[0].domain
        try:
            mx = await self.resolver.mx(domain)
        except DnsTemporaryError:
            return all_outcomes(job, "deferred", "4.4.3", f"DNS lookup for {domain} failed")
        except DnsNameError:
            return all_outcomes(job, "failed", "5.1.2", f"invalid domain {domain}", code=550)
        if mx.null_mx:
            return all_outcomes(
                job, "failed", "5.1.10", f"{domain} does not accept mail (null MX)", code=556
            )
        if mx.nxdomain or not mx.hosts:
            return all_outcomes(job, "failed", "5.1.2", f"no mail host for {domain}", code=550)
        policy = await self._policy(domain)
        hosts = list(mx.hosts)
        if policy is not None:
            hosts = [h for h in hosts if policy.matches(h)]
            if not hosts:
                return all_outcomes(
                    job, "deferred", "4.7.5", f"no MX of {domain} matches its MTA-STS policy"
                )
        envelope = envelope_of(job)
        last = HostFailure(f"no usable MX host for {domain}", status="4.4.1")
        for host in hosts[: self.settings.max_mx_hosts]:
            tls = await self._tls_for(host, mx.secure)
            if isinstance(tls, HostFailure):
                last = tls
                continue
            mode, tlsa = tls
            if mode is TlsMode.OPPORTUNISTIC and policy is not None:
                mode = TlsMode.VERIFY
            try:
                addresses = await self.resolver.addresses(host)
            except (DnsTemporaryError, DnsNameError) as e:
                last = HostFailure(f"address lookup for {host} failed: {e.detail}", status="4.4.3")
                continue
            for address in addresses[:ADDRESSES_PER_HOST]:
                target = HostTarget(
                    host, address, self.settings.remote_port, mode, tlsa=tlsa,
                    source_ip=self.settings.source_ip,
                )  # fmt: skip
                try:
                    return await self._send(target, envelope)
                except HostFailure as e:
                    log.info("delivery to %s (%s) failed: %s", host, address, e.reply)
                    last = e
        return all_outcomes(job, "deferred", last.status, last.reply, code=last.code)

    async def _send(self, target: HostTarget, envelope: Envelope) -> list[Outcome]:
        kw = {
            "helo": self.helo,
            "connect_timeout": self.settings.connect_timeout,
            "command_timeout": self.settings.command_timeout,
            "ca_file": self.settings.tls_ca_file,
        }
        try:
            return await send_to_host(target, envelope, **kw)  # type: ignore[arg-type]
        except HostFailure as e:
            if target.tls is TlsMode.OPPORTUNISTIC and e.status == "4.7.5":
                plain = HostTarget(target.host, target.address, target.port, TlsMode.NONE,
                                   source_ip=target.source_ip)  # fmt: skip
                return await send_to_host(plain, envelope, **kw)  # type: ignore[arg-type]
            raise
