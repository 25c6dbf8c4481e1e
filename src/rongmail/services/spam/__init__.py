"""Spam, phishing and malware filtering (DESIGN.md rule 7: analyzers emit tags, a policy scores).

Stage-ready API (the pipeline stage owns when and how these are called; nothing here touches the
store or replies to the client)::

    from rongmail.services.spam import Policy, ScanContext, Thresholds, analyze

    tags = await analyze(parsed, ScanContext(raw=raw, model=tenant_model, auth=auth_results,
                                             tenant_domains=..., people=..., resolver=...))
    verdict = Policy(Thresholds(junk=5, quarantine=10, reject=15)).decide(tags)
    verdict.action      # Action.DELIVER | JUNK | QUARANTINE | REJECT
    verdict.explain()   # every tag with its weight and reason, for the admin console

Modules:

* :mod:`.tags` - :class:`Tag` and the closed registry ``rules/tags.toml`` (weights, reasons).
* :mod:`.classifier` - :class:`ContentModel`, per-tenant online logistic regression over
  hashed character n-grams (:mod:`.features`); ``score(features)``, ``learn(features, is_spam)``,
  ``to_bytes()``/``from_bytes()`` for the store; output maps to :class:`ContentLabel`.
* :mod:`.rules` - header anomalies, SPF/DKIM/DMARC results, HTML-only, URL shorteners, Chinese
  spam patterns (``rules/content.toml``); :mod:`.dnsbl` - DNSBL/URIBL via an injected resolver.
* :mod:`.phishing` - impersonation, lookalike/IDN domains, deceptive links, password forms,
  payment-change requests. :mod:`.attachments` - types, double extensions, archives with
  limits, macros (oletools), YARA (``rules/*.yar``); :mod:`.clamd` - optional ClamAV;
  :mod:`.rspamd` - optional rspamd, its action mapped to closed-set ``RSPAMD_*`` tags.
* :mod:`.policy` - :class:`Policy`, :class:`Thresholds`, :class:`Verdict`, :class:`Action`.
* :mod:`.scan` - :func:`analyze` (async, runs CPU work off the loop) and :func:`analyze_sync`.
* :mod:`.message` - raw bytes to ``ParsedMessage`` for callers without a parsed message.

Learning from users (Junk moves over IMAP/JMAP/webmail) is ``model.learn(model.features(parsed),
is_spam)`` followed by persisting ``model.to_bytes()``; no pre-trained model ships.
"""

from typing import TYPE_CHECKING, Any

from .context import ExternalFilter, Person, Resolver, ScanContext, VirusScanner
from .policy import Action, Policy, ScoredTag, Thresholds, Verdict
from .scan import analyze, analyze_sync
from .tags import Tag, registry

if TYPE_CHECKING:
    from .classifier import ContentLabel, ContentModel

#: Names loaded from :mod:`.classifier` on first use (PEP 562). The classifier needs NumPy
#: (about 12 MB of RSS and an OpenBLAS thread per process), which a process that neither
#: filters inbound mail nor learns from users never needs: an IMAP/POP3-only serving process
#: imports this package (scanner probes, sender contacts, thresholds) but not the model.
_LAZY = frozenset({"ContentLabel", "ContentModel"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Action",
    "ContentLabel",
    "ContentModel",
    "ExternalFilter",
    "Person",
    "Policy",
    "Resolver",
    "ScanContext",
    "ScoredTag",
    "Tag",
    "Thresholds",
    "Verdict",
    "VirusScanner",
    "analyze",
    "analyze_sync",
    "registry",
]
