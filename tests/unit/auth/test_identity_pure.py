"""Pure parts of the identity layer: password policy with the shipped list, TOTP (RFC 6238
test vectors and replay window), recovery codes, risk scoring, GeoIP lookups."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from authgeo import write_country_mmdb

from rongmail.config.security import RiskSettings
from rongmail.errors import ValidationError
from rongmail.services.auth import risk, totp
from rongmail.services.auth.geoip import GeoIp
from rongmail.services.auth.passwords import check_policy, common_passwords, weakness
from rongmail.store.sql.auth import LoginEventRow


@pytest.mark.parametrize("pw", ["Password123!", "woaini1314", "P@ssw0rd", "1qaz2wsx",
                                "qq123456", "88888888", "Chengdu2024", "abcabcabc",
                                "19800520", "98765432", "Rongmail!"])
def test_guessable_passwords_are_refused(pw: str) -> None:
    with pytest.raises(ValidationError):
        check_policy(pw)


def test_policy_length_classes_and_name() -> None:
    with pytest.raises(ValidationError) as e:
        check_policy("Sh0rt!", min_length=8)
    assert e.value.key == "password.too_short"
    with pytest.raises(ValidationError) as e:
        check_policy("alllowercaseletters", min_classes=2)
    assert e.value.key == "password.too_simple" and "2" in e.value.public("en")
    with pytest.raises(ValidationError) as e:
        check_policy("xiaoming!2026", address="liu.xiaoming@demo.test")
    assert e.value.key == "password.contains_name"
    check_policy("Correct-Horse-9-Battery", min_classes=3, address="zhang.wei@demo.test")


def test_shipped_list_is_ours_and_lower_case() -> None:
    words = common_passwords()
    assert len(words) > 200 and "woaini1314" in words and "password" in words
    assert all(w == w.lower() for w in words)
    assert weakness("Tianfu-Software-Park-7") is None


def test_totp_rfc6238_vector_and_window() -> None:
    # RFC 6238 Appendix B, SHA-1, T = 59 s: 94287082 (8 digits); we use 6 digits: 287082
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
    assert totp.matching_step(secret, "287082", window=0, now=59) == 1
    code = pyotp.TOTP(secret).at(1_000_000)
    step = 1_000_000 // 30
    assert totp.matching_step(secret, code, window=1, now=1_000_000 + 30) == step
    assert totp.matching_step(secret, code, window=1, now=1_000_000 + 90) is None
    assert totp.matching_step(secret, "12345", window=1) is None
    assert totp.matching_step(secret, "abcdef", window=1) is None


def test_recovery_codes() -> None:
    codes = totp.new_recovery_codes(10)
    assert len(set(codes)) == 10
    assert all(totp.looks_like_recovery_code(c) for c in codes)
    assert totp.recovery_hash(codes[0].lower().replace("-", " ")) == totp.recovery_hash(codes[0])
    assert not totp.looks_like_recovery_code("123456")


def _ev(at: int, country: str, net: str = "192.0.2.0/24", device: str = "",
        outcome: str = "success") -> LoginEventRow:
    return LoginEventRow(at, "192.0.2.1", net, country, device, "web", "password", outcome)


def test_risk_signals_and_decisions() -> None:
    cfg = RiskSettings(quiet_hours=(0, 0))
    now = 1_800_000_000
    ctx = risk.LoginContext("198.51.100.7", "198.51.100.0/24", "US", "d2", now)
    # no history: nothing is "new"
    d = risk.score(cfg, ctx, [], recent_failures=0, accounts_from_ip=0, timezone="UTC")
    assert d.outcome == risk.ALLOW and d.reasons == ()
    hist = [_ev(now - 86400, "CN", device="d1")]
    d = risk.score(cfg, ctx, hist, recent_failures=0, accounts_from_ip=0, timezone="UTC")
    assert d.outcome == risk.STEP_UP
    assert set(d.reasons) == {"new_device", "new_network", "new_country"}
    hist = [_ev(now - 600, "CN", device="d1")]
    d = risk.score(cfg, ctx, hist, recent_failures=6, accounts_from_ip=0, timezone="UTC")
    assert d.outcome == risk.FREEZE and "impossible_travel" in d.reasons
    d = risk.score(cfg, ctx, [_ev(now - 600, "CN"), _ev(now - 300, "JP")], recent_failures=0,
                   accounts_from_ip=0, timezone="UTC")
    assert d.outcome == risk.FREEZE and "country_hopping" in d.reasons
    d = risk.score(cfg, ctx, [_ev(now - 600, "CN"), _ev(now - 300, "JP")], recent_failures=0,
                   accounts_from_ip=0, timezone="UTC", reset_at=now - 100)
    assert "country_hopping" not in d.reasons
    home = risk.LoginContext("192.0.2.1", "192.0.2.0/24", "CN", "", now)
    d = risk.score(cfg, home, [_ev(now - 86400, "CN"), _ev(now - 60, "US", net="198.51.100.0/24")],
                   recent_failures=0, accounts_from_ip=9, timezone="UTC")
    assert d.reasons == ("many_accounts_ip",) and d.outcome == risk.ALLOW
    night = RiskSettings(quiet_hours=(1, 6))
    at_3am_shanghai = 1_800_000_000 - (1_800_000_000 % 86400) + 19 * 3600  # 03:00 +08:00
    d = risk.score(night, risk.LoginContext("192.0.2.1", "192.0.2.0/24", "", "", at_3am_shanghai),
                   [], recent_failures=0, accounts_from_ip=0, timezone="Asia/Shanghai")
    assert d.reasons == ("unusual_hour",)
    off = risk.score(RiskSettings(enabled=False), ctx, hist, recent_failures=99,
                     accounts_from_ip=99, timezone="UTC")
    assert off.outcome == risk.ALLOW


def test_network_of() -> None:
    assert risk.network_of("203.0.113.77") == "203.0.113.0/24"
    assert risk.network_of("2001:db8:1:2::5") == "2001:db8:1::/48"


def test_geoip_missing_file_turns_signals_off(tmp_path: Path) -> None:
    geo = GeoIp(tmp_path / "absent.mmdb")
    assert not geo.available and geo.country("8.8.8.8") == ""


def test_geoip_lookup_of_a_generated_database(tmp_path: Path) -> None:
    geo = GeoIp(write_country_mmdb(tmp_path / "c.mmdb", {"192.0.2.1": "cn", "2001:db8::1": "SE"}))
    assert geo.country("192.0.2.1") == "CN" and geo.country("2001:db8::1") == "SE"
    assert geo.country("192.0.2.2") == "" and geo.country("not an ip") == ""
    assert geo.region("192.0.2.1") == "CN"
