"""Offline IP to country lookup for risk scoring (no network access, ever).

Reads a MaxMind-format database (``.mmdb``) with ``maxminddb``. The recommended file is the CC0
``geo-whois-asn-country`` database of the npm package ``@ip-location-db/geo-whois-asn-country-mmdb``
(``npm pack`` it, copy ``geo-whois-asn-country.mmdb`` to ``<data-dir>/geoip/country.mmdb``, or set
``security.geoip_path``); any database whose records carry ``country_code`` (ip-location-db) or
``country.iso_code`` (MaxMind GeoLite2/GeoIP2) works. Province-level data for China is not in
that file; a region database with ``subdivisions`` (GeoIP2-City layout) is used when present.

Invariants: a lookup never raises (unknown, private or malformed addresses give ``""``); a
missing database turns the country signals off instead of failing logins. The file is opened
once (memory-mapped); ``reload()`` swaps it atomically after an update.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("rongmail.auth.geoip")


class GeoIp:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._reader: Any = None
        self.reload()

    @property
    def available(self) -> bool:
        return self._reader is not None

    def reload(self) -> None:
        if self.path is None or not self.path.is_file():
            if self.path is not None:
                log.info("GeoIP database %s not found: country signals disabled", self.path)
            self._reader = None
            return
        import maxminddb

        try:
            self._reader = maxminddb.open_database(str(self.path))
        except (OSError, ValueError) as exc:
            log.warning("GeoIP database %s unreadable (%s): country signals disabled",
                        self.path, exc)
            self._reader = None

    def region(self, ip: str) -> str:
        """``CC`` or ``CC-SUBDIVISION`` (e.g. ``CN-SC``) when the database has regions."""
        rec = self._record(ip)
        if not isinstance(rec, dict):
            return ""
        cc = _country(rec)
        subs = rec.get("subdivisions")
        if cc and isinstance(subs, list) and subs and isinstance(subs[0], dict):
            iso = subs[0].get("iso_code")
            if isinstance(iso, str) and iso:
                return f"{cc}-{iso.upper()}"
        return cc

    def country(self, ip: str) -> str:
        """ISO 3166-1 alpha-2 country code, or ``""`` when unknown."""
        rec = self._record(ip)
        return _country(rec) if isinstance(rec, dict) else ""

    def _record(self, ip: str) -> Any:
        if self._reader is None:
            return None
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        try:
            return self._reader.get(str(addr))
        except (ValueError, OSError):
            return None


def _country(rec: dict[str, Any]) -> str:
    cc = rec.get("country_code")
    if not isinstance(cc, str):
        country = rec.get("country")
        cc = country.get("iso_code") if isinstance(country, dict) else None
    return cc.upper() if isinstance(cc, str) and len(cc) == 2 else ""
