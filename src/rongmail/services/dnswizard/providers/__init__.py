"""Push a DNS plan through a hosting provider's API: Alibaba Cloud DNS (``aliyun``), Tencent
Cloud DNSPod (``dnspod``), Huawei Cloud DNS (``huaweicloud``) and Cloudflare (``cloudflare``).

Each provider module implements :class:`~.base.DnsProvider` (list / create / delete records of
one zone, with its own request signing) and converts between its record format and the
wizard's presentation-format rdata. :func:`~.base.diff_live` and :func:`~.base.push_plan` are
provider-independent and keep ``dnswizard.push`` semantics: a diff first, only our own stale
values are ever deleted, foreign competing values are conflicts for a human.

The real provider endpoints are out of reach of the test suite: tests run each provider against
a local aiohttp stand-in that re-derives the signature independently (``tests/unit/dnsproviders``).
"""

from __future__ import annotations

from typing import Any

from rongmail.services.dnswizard.providers.base import DnsProvider, LiveRecord, ProviderError

__all__ = ["DnsProvider", "LiveRecord", "ProviderError", "make_provider"]


def make_provider(kind: str, credentials: dict[str, Any], *, endpoint: str = "",
                  timeout: float = 15.0) -> DnsProvider:
    """The provider client for ``kind`` (endpoint "" = the provider's public API)."""
    if kind == "aliyun":
        from rongmail.services.dnswizard.providers.aliyun import AliyunDns

        return AliyunDns(credentials["access_key_id"], credentials["access_key_secret"],
                         endpoint=endpoint or AliyunDns.ENDPOINT, timeout=timeout)
    if kind == "dnspod":
        from rongmail.services.dnswizard.providers.dnspod import DnsPod

        return DnsPod(credentials["secret_id"], credentials["secret_key"],
                      endpoint=endpoint or DnsPod.ENDPOINT, timeout=timeout)
    if kind == "huaweicloud":
        from rongmail.services.dnswizard.providers.huaweicloud import HuaweiDns

        return HuaweiDns(credentials["access_key"], credentials["secret_key"],
                         endpoint=endpoint or HuaweiDns.ENDPOINT, timeout=timeout)
    if kind == "cloudflare":
        from rongmail.services.dnswizard.providers.cloudflare import Cloudflare

        return Cloudflare(credentials["api_token"], endpoint=endpoint or Cloudflare.ENDPOINT,
                          timeout=timeout)
    raise ValueError(f"unknown DNS provider {kind!r}")
