"""Policy: thresholds, forced minimum actions, hard evidence for reject, explanations."""

from __future__ import annotations

import pytest

from rongmail.services.spam.policy import Action, Policy, Thresholds
from rongmail.services.spam.tags import Tag, registry, tag


def test_registry_is_consistent() -> None:
    reg = registry()
    for name, info in reg.items():
        assert name.isupper() and info.en and info.zh
        assert info.min_action in (None, "deliver", "junk", "quarantine", "reject")


def test_undeclared_tag_is_refused() -> None:
    with pytest.raises(KeyError):
        tag("NOT_A_TAG")


def test_thresholds() -> None:
    p = Policy(Thresholds(junk=3, quarantine=6, reject=9))
    assert p.decide([]).action is Action.DELIVER
    assert p.decide([tag("ZH_INVOICE")]).action is Action.JUNK  # 4.0
    assert p.decide([tag("ZH_INVOICE"), tag("ZH_CONTACT_IM")]).action is Action.QUARANTINE


def test_bad_thresholds_rejected() -> None:
    with pytest.raises(ValueError):
        Thresholds(junk=10, quarantine=5)


def test_min_action_forces_quarantine() -> None:
    v = Policy().decide([tag("ATTACH_DOUBLE_EXT", "invoice.pdf.exe"), tag("BAYES_HAM")])
    assert v.action is Action.QUARANTINE


def test_reject_needs_hard_evidence() -> None:
    soft = [
        tag(n)
        for n in (
            "BAYES_SPAM_HIGH",
            "ZH_INVOICE",
            "ZH_CONTACT_IM",
            "ZH_AD_MARKER",
            "URL_SHORTENER",
            "ZH_GET_RICH",
        )
    ]
    v = Policy().decide(soft)
    assert v.score >= 15 and v.action is Action.QUARANTINE
    v = Policy().decide([*soft, tag("DMARC_POLICY_REJECT")])
    assert v.action is Action.REJECT


def test_virus_rejects_alone() -> None:
    assert Policy().decide([tag("VIRUS_FOUND", "Eicar")]).action is Action.REJECT


def test_weights_per_tenant() -> None:
    p = Policy(weights={"ZH_TRAINING": 0.0})
    assert p.decide([tag("ZH_TRAINING")]).score == 0.0
    with pytest.raises(ValueError):
        Policy(weights={"NOPE": 1.0})


def test_verdict_explains_each_tag() -> None:
    v = Policy(lang="en").decide([tag("MISSING_MID"), tag("ZH_INVOICE"), tag("ZH_INVOICE")])
    assert v.tag_names == ["ZH_INVOICE", "MISSING_MID"]  # de-duplicated, largest first
    text = v.explain()
    assert text.startswith("junk score=5.0") and "+4.0 ZH_INVOICE" in text and "Message-ID" in text
    zh = Policy().decide([Tag("MISSING_MID")])
    assert zh.tags[0].reason == registry()["MISSING_MID"].zh
