"""The OpenSPF RFC 7208 test suite (release 2014.04) run through ``check_spf``.

Each scenario's ``zonedata`` becomes a :class:`MemoryTransport` zone; the records of type SPF
are copied to TXT when a name has no TXT, as the suite's driver notes require. The DNS
questions travel through the same thread bridge as in production.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from authvectors import SKIP_REASON, vectors_dir

from rongmail.services.dns import DnsResolver, MemoryTransport
from rongmail.services.mailauth.spf import check_spf

_TYPES = ("A", "AAAA", "MX", "TXT", "PTR", "CNAME")


def _load() -> list[Any]:
    root = vectors_dir()
    if root is None:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=SKIP_REASON), id="absent")]
    params = []
    with open(root / "openspf_rfc_tests" / "rfc7208-tests.yml", encoding="utf-8") as f:
        for scenario in yaml.safe_load_all(f):
            for name, case in scenario["tests"].items():
                params.append(pytest.param(scenario["zonedata"], case, id=name))
    return params


def build_zone(zonedata: dict[str, list[Any]]) -> MemoryTransport:
    zone = MemoryTransport()
    for name, entries in zonedata.items():
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        seen: set[str] = set()
        timeout = False
        zone.add(name, "TXT")  # the name exists even if every value is NONE
        zone.remove(name, "TXT")
        for entry in entries:
            if entry == "TIMEOUT":
                timeout = True
                continue
            for rtype, value in entry.items():
                if rtype == "SPF":
                    if has_txt:
                        continue
                    rtype = "TXT"
                if value == "NONE":  # present but empty; a later TIMEOUT still applies
                    continue
                seen.add(rtype)
                if rtype == "TXT" and isinstance(value, str):
                    value = [value]
                zone.add(name, rtype, value)
        if timeout:
            for rtype in _TYPES:
                if rtype not in seen:
                    zone.add_timeout(name, rtype)
    return zone


@pytest.mark.corpus
@pytest.mark.parametrize(("zonedata", "case"), _load())
async def test_rfc7208_suite(zonedata: dict[str, list[Any]], case: dict[str, Any]) -> None:
    resolver = DnsResolver(build_zone(zonedata))
    verdict = await check_spf(
        resolver, ip=case["host"], mail_from=case["mailfrom"], helo=case["helo"]
    )
    expected = case["result"]
    acceptable = expected if isinstance(expected, list) else [expected]
    assert verdict.result.value in acceptable, f"spec {case.get('spec')}: {verdict}"
    exp = case.get("explanation")
    if exp is not None and exp != "DEFAULT" and verdict.result.value == "fail":
        assert verdict.explanation == exp
