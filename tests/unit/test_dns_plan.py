"""The DNS plan is complete, explained and correct for single- and two-site set-ups."""

from __future__ import annotations

from rongmail.i18n import catalogue
from rongmail.services.dnswizard import plan


def p(**kw: object) -> plan.PlanInput:
    base = dict(domain="example.cn", hosts=(plan.MailHost("mail.example.cn", ("192.0.2.1",)),),
                dkim=(plan.DkimSelector("s1", "v=DKIM1; k=ed25519; p=abc"),))
    base.update(kw)
    return plan.PlanInput(**base)  # type: ignore[arg-type]


def test_every_kind_of_record_with_an_explanation() -> None:
    recs = plan.build_plan(p())
    kinds = {(r.rtype, r.name.split(".")[0]) for r in recs}
    for want in [("MX", "example"), ("A", "mail"), ("TXT", "s1"), ("TXT", "_dmarc"),
                 ("TXT", "_mta-sts"), ("CNAME", "mta-sts"), ("TXT", "_smtp"),
                 ("SRV", "_submissions"), ("SRV", "_imaps"), ("SRV", "_pop3s"),
                 ("SRV", "_caldavs"), ("SRV", "_carddavs"), ("CNAME", "autoconfig"),
                 ("CNAME", "autodiscover"), ("CAA", "example")]:
        assert want in kinds, want
    zh, en = catalogue("zh-CN"), catalogue("en")
    for r in recs:
        assert r.why in zh and r.why in en, r.why
        plan._parse(r.rtype, r.value)  # valid presentation format


def test_spf_and_dmarc_stages() -> None:
    assert plan.spf_text(p()).endswith("~all")
    assert plan.spf_text(p(dmarc_stage="reject", relay_includes=("spf.relay.cn",))) == (
        "v=spf1 mx include:spf.relay.cn -all")
    assert "p=none" in plan.dmarc_text(p())
    assert "pct=25" in plan.dmarc_text(p(dmarc_stage="quarantine", dmarc_pct=25))
    assert plan.next_dmarc_stage("none", 100) == ("quarantine", 25)
    assert plan.next_dmarc_stage("quarantine", 25) == ("quarantine", 50)
    assert plan.next_dmarc_stage("quarantine", 100) == ("reject", 100)


def test_two_sites_get_ordered_mx_and_notes() -> None:
    hosts = (plan.MailHost("mx1.example.cn", ("192.0.2.1", "192.0.2.2"), site="chengdu"),
             plan.MailHost("mx2.example.cn", ("198.51.100.1",), site="chengdu"),
             plan.MailHost("mx3.example.cn", ("203.0.113.1",), site="shanghai"))
    recs = plan.build_plan(p(hosts=hosts))
    mx = sorted(r.value for r in recs if r.rtype == "MX")
    assert mx == ["10 mx1.example.cn.", "10 mx2.example.cn.", "20 mx3.example.cn."]
    assert len([r for r in recs if r.rtype == "A" and r.name == "mx1.example.cn."]) == 2
    assert set(plan.ha_notes(p(hosts=hosts))) == {"dns.ha.two_sites", "dns.ha.shared_store",
                                                 "dns.ha.split_a"}
    policy = plan.mta_sts_policy(p(hosts=hosts, mta_sts_mode="enforce"))
    assert "mode: enforce\r\n" in policy and policy.count("mx: ") == 3


def test_long_dkim_key_is_split() -> None:
    v = plan.txt_value("v=DKIM1; k=rsa; p=" + "A" * 400)
    assert v.count('"') == 4
