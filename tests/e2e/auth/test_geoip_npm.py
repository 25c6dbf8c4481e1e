"""The offline GeoIP reader on the real CC0 database of the npm package
``@ip-location-db/geo-whois-asn-country-mmdb``, fetched by the test setup with ``npm pack`` into
a cache (the server itself never downloads anything)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from rongmail.services.auth.geoip import GeoIp

pytestmark = pytest.mark.peer
PACKAGE = "@ip-location-db/geo-whois-asn-country-mmdb"


@pytest.fixture(scope="module")
def country_db() -> Path:
    from peers import skip_or_fail

    cache = Path(os.environ.get("RONGMAIL_TEST_CACHE", "/tmp/rongmail-test-cache")) / "geoip"
    db = cache / "package" / "geo-whois-asn-country.mmdb"
    if db.is_file():
        return db
    if shutil.which("npm") is None:
        skip_or_fail("npm is needed to fetch the GeoIP package")
    cache.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["npm", "pack", "--silent", PACKAGE], cwd=cache, capture_output=True,
                         text=True, timeout=300)
    if out.returncode != 0:
        skip_or_fail(f"npm pack {PACKAGE} failed: {out.stderr[-500:]}")
    with tarfile.open(cache / out.stdout.strip().splitlines()[-1]) as tar:
        tar.extractall(cache, filter="data")
    return db


def test_country_lookups_on_the_real_database(country_db: Path) -> None:
    geo = GeoIp(country_db)
    assert geo.available
    assert geo.country("8.8.8.8") == "US"
    assert geo.country("223.5.5.5") == "CN"  # AliDNS, Hangzhou
    assert geo.country("2400:3200::1") == "CN"
    assert geo.country("127.0.0.1") == ""  # loopback: unknown, never an error
