"""A small country database for the identity tests, made with ``mmdb-writer``: loopback
addresses stand for countries (no traffic leaves 127.0.0.0/8)."""

from __future__ import annotations

from pathlib import Path

#: one /24 each, so that every address is also a different network
COUNTRIES = {"127.0.0.1": "CN", "127.0.2.1": "US", "127.0.3.1": "JP", "127.0.4.1": "DE",
             "127.0.5.1": "US"}


def write_country_mmdb(path: Path, countries: dict[str, str] = COUNTRIES) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    w = MMDBWriter(ip_version=6, database_type="geo-whois-asn-country", ipv4_compatible=True)
    for ip, cc in countries.items():
        w.insert_network(IPSet([f"{ip}/32"]), {"country_code": cc})
    w.to_db_file(str(path))
    return path
