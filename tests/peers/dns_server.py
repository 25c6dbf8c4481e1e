"""A real authoritative DNS server for tests: Knot DNS (Debian ``knot``) on 127.0.0.x.

Usage::

    zones = {"demo.test": [Record("@", "MX", "10 mx"), Record("mx", "A", "127.0.0.1"),
                          Record("@", "TXT", spf("ip4:127.0.0.20 -all"))]}
    with KnotServer(tmp_path, zones) as dns:          # picks a free port on 127.0.0.53
        resolver = DnsResolver.from_settings([dns.address], port=dns.port)

Zones get an SOA and NS automatically. TXT values longer than 255 octets are split into
several character-strings (RFC 1035 §3.3.14), so DKIM RSA-2048 keys can be published as they
are. :meth:`KnotServer.set_zone` rewrites a zone and reloads it through ``knotc`` while the
server runs. Zones listed in ``signed`` are DNSSEC-signed by Knot; :meth:`KnotServer.ds`
gives their trust anchor, and :class:`DnsmasqValidator` puts a validating resolver (AD bit) in
front, for DANE tests. Servers run in the foreground of their own processes and are stopped by
pid.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from peers import PeerUnavailable, ports
from peers.apt import ensure

PACKAGES = ("knot", "knot-dnsutils")


@dataclass(frozen=True, slots=True)
class Record:
    name: str  # relative to the zone ("@", "mx", "_dmarc") or absolute with a trailing dot
    rtype: str
    value: str
    ttl: int = 60


def txt(value: str) -> str:
    """A TXT rdata in master-file syntax, split into ≤255-octet quoted strings."""
    raw = value.encode()
    parts = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    return " ".join('"' + p.decode().replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


def spf(mechanisms: str) -> str:
    return txt(f"v=spf1 {mechanisms}")


def free_port(address: str) -> int:
    """A port free for both UDP and TCP on ``address`` (leased: see ``peers.ports``)."""
    try:
        return ports.free_port(address, udp=True)
    except OSError as e:
        raise PeerUnavailable(str(e)) from e


def zone_text(origin: str, records: Iterable[Record], *, ns_address: str, serial: int) -> str:
    lines = [
        f"$ORIGIN {origin}.",
        "$TTL 60",
        f"@ IN SOA ns1.{origin}. hostmaster.{origin}. {serial} 60 60 600 60",
        "@ IN NS ns1",
        f"ns1 IN A {ns_address}",
    ]
    for r in records:
        value = r.value
        if r.rtype.upper() == "TXT" and not value.startswith('"'):
            value = txt(value)
        lines.append(f"{r.name} {r.ttl} IN {r.rtype.upper()} {value}")
    return "\n".join(lines) + "\n"


class KnotServer:
    def __init__(
        self,
        workdir: Path,
        zones: Mapping[str, Iterable[Record]],
        *,
        address: str = "127.0.0.53",
        port: int | None = None,
        signed: Iterable[str] = (),
    ) -> None:
        self.workdir = Path(workdir) / "knot"
        self.address = address
        self.port = port or 0
        self.zones = {name.rstrip(".").lower(): list(recs) for name, recs in zones.items()}
        #: Zones Knot signs itself (DNSSEC, ECDSA P-256); see :meth:`ds`.
        self.signed = {z.rstrip(".").lower() for z in signed}
        self._proc: subprocess.Popen[bytes] | None = None
        self._serial = int(time.time()) % 1_000_000_000

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> KnotServer:
        ensure(PACKAGES)
        knotd = shutil.which("knotd") or "/usr/sbin/knotd"
        if not Path(knotd).exists():
            raise PeerUnavailable("knotd not found")
        if not self.port:
            self.port = free_port(self.address)
        (self.workdir / "zones").mkdir(parents=True, exist_ok=True)
        (self.workdir / "db").mkdir(exist_ok=True)
        for name in self.zones:
            self._write_zone(name)
        conf = self.workdir / "knot.conf"
        conf.write_text(self._config())
        log = (self.workdir / "knotd.out").open("wb")
        self._proc = subprocess.Popen(
            [knotd, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        self._wait_ready()
        return self

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None

    def __enter__(self) -> KnotServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- zones ----------------------------------------------------------------------------------
    def set_zone(self, name: str, records: Iterable[Record]) -> None:
        """Replace a zone's records and reload it (the zone must exist at start)."""
        key = name.rstrip(".").lower()
        self.zones[key] = list(records)
        self._write_zone(key)
        knotc = shutil.which("knotc") or "/usr/sbin/knotc"
        subprocess.run(
            [knotc, "-c", str(self.workdir / "knot.conf"), "zone-reload", f"{key}."],
            check=True, capture_output=True, timeout=20,
        )  # fmt: skip
        self._wait_serial(key)

    def _write_zone(self, name: str) -> None:
        self._serial += 1
        text = zone_text(name, self.zones[name], ns_address=self.address, serial=self._serial)
        (self.workdir / "zones" / f"{name}.zone").write_text(text)

    def _config(self) -> str:
        zones = "\n".join(
            f"  - domain: {z}."
            + ("\n    dnssec-signing: on\n    dnssec-policy: auto" if z in self.signed else "")
            for z in self.zones
        )
        w = self.workdir
        return f"""server:
    listen: {self.address}@{self.port}
    rundir: {w}
    background-workers: 1
    udp-workers: 1
    tcp-workers: 1
control:
    listen: {w}/knot.sock
database:
    storage: {w}/db
policy:
  - id: auto
    algorithm: ecdsap256sha256
    nsec3: off
log:
  - target: {w}/knot.log
    any: info
template:
  - id: default
    storage: {w}/zones
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
zone:
{zones}
"""

    def ds(self, zone: str) -> tuple[int, int, int, str]:
        """(key tag, algorithm, digest type, hex digest) of the zone's KSK, SHA-256 (RFC 4509),
        for a validating resolver's trust anchor."""
        import dns.dnssec
        import dns.message
        import dns.name
        import dns.query
        import dns.rdatatype

        name = dns.name.from_text(f"{zone}.")
        q = dns.message.make_query(name, dns.rdatatype.DNSKEY, want_dnssec=True)
        resp = dns.query.udp(q, self.address, port=self.port, timeout=2)
        for rrset in resp.answer:
            if rrset.rdtype != dns.rdatatype.DNSKEY:
                continue
            for key in rrset:
                if key.flags & 0x0001:  # SEP bit: the KSK
                    ds = dns.dnssec.make_ds(name, key, "SHA256")
                    return ds.key_tag, ds.algorithm, ds.digest_type, ds.digest.hex()
        raise PeerUnavailable(f"zone {zone} has no KSK (not signed?)")

    def _query_serial(self, zone: str) -> int | None:
        import dns.exception
        import dns.message
        import dns.query
        import dns.rdatatype

        q = dns.message.make_query(f"{zone}.", dns.rdatatype.SOA)
        try:
            resp = dns.query.udp(q, self.address, port=self.port, timeout=0.5)
        except (OSError, dns.exception.Timeout):
            return None
        for rrset in resp.answer:
            return int(rrset[0].serial)  # type: ignore[attr-defined]
        return None

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                out = (self.workdir / "knotd.out").read_text(errors="replace")
                raise PeerUnavailable(f"knotd exited: {out[-800:]}")
            if all(self._query_serial(z) is not None for z in self.zones):
                return
            time.sleep(0.1)
        self.stop()
        raise PeerUnavailable("knotd did not answer in time")

    def _wait_serial(self, zone: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._query_serial(zone) == self._serial:
                return
            time.sleep(0.05)
        raise PeerUnavailable(f"zone {zone} did not reload")


class DnsmasqValidator:
    """A DNSSEC-validating forwarder (Debian ``dnsmasq-base``) in front of :class:`KnotServer`.

    It forwards every question to Knot and sets the AD bit on answers it validated against the
    configured trust anchors (RFC 4035 §3.2.3): what RongMail's DANE code needs from "a
    validating resolver you trust". Unsigned zones are answered without AD. dnsmasq insists
    on a root anchor; the real root KSK-2017 DS is given, and never reached.
    """

    ROOT_DS = "20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"

    def __init__(
        self,
        workdir: Path,
        upstream: KnotServer,
        anchors: Mapping[str, tuple[int, int, int, str]],
        *,
        address: str = "127.0.0.55",
    ) -> None:
        self.workdir = Path(workdir) / "dnsmasq"
        self.upstream = upstream
        self.anchors = dict(anchors)
        self.address = address
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DnsmasqValidator:
        ensure(("dnsmasq-base",))
        exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        if not Path(exe).exists():
            raise PeerUnavailable("dnsmasq not found")
        self.port = free_port(self.address)
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            exe, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            f"--listen-address={self.address}", "--bind-interfaces", f"--port={self.port}",
            f"--server={self.upstream.address}#{self.upstream.port}", "--dnssec",
            "--dnssec-check-unsigned=no", f"--trust-anchor=.,{self.ROOT_DS}",
            "--user=root", "--group=root", f"--pid-file={self.workdir / 'dnsmasq.pid'}",
        ]  # fmt: skip
        for zone, (tag, alg, dtype, digest) in self.anchors.items():
            args.append(f"--trust-anchor={zone},{tag},{alg},{dtype},{digest}")
        out = (self.workdir / "dnsmasq.out").open("wb")
        self._proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 10.0) -> None:
        import dns.exception
        import dns.message
        import dns.query

        deadline = time.monotonic() + timeout
        zone = next(iter(self.upstream.zones))
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                text = (self.workdir / "dnsmasq.out").read_text(errors="replace")
                raise PeerUnavailable(f"dnsmasq exited: {text[-800:]}")
            try:
                dns.query.udp(dns.message.make_query(f"{zone}.", "SOA"), self.address,
                              port=self.port, timeout=0.5)  # fmt: skip
                return
            except (OSError, dns.exception.Timeout):
                time.sleep(0.1)
        self.stop()
        raise PeerUnavailable("dnsmasq did not answer in time")

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None
