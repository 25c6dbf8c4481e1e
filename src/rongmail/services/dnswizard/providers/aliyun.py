"""Alibaba Cloud DNS (Alidns, API version 2015-01-09), RPC style with signature v1.

Signing (Alibaba Cloud "RPC API signature" documentation): every parameter, including the
common ones (``Format``, ``Version``, ``AccessKeyId``, ``SignatureMethod=HMAC-SHA1``,
``Timestamp`` in ISO 8601 UTC, ``SignatureVersion=1.0``, a unique ``SignatureNonce``), is
percent-encoded per RFC 3986 (``~`` kept, space as ``%20``), sorted by name and joined with
``&``; ``StringToSign = Method & %2F & percentEncode(canonicalized)``; the signature is
``Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))``. The documented worked example
(AccessKeyId ``testid``, secret ``testsecret``) is a unit test vector.

Actions used: ``DescribeDomainRecords`` (paged), ``AddDomainRecord`` (``RR``, ``Type``,
``Value``, ``TTL``, ``Priority`` for MX), ``DeleteDomainRecord`` (``RecordId``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import urllib.parse
from collections.abc import Mapping

from rongmail.services.dnswizard.plan import Record
from rongmail.services.dnswizard.providers._http import JsonClient
from rongmail.services.dnswizard.providers.base import (
    LiveRecord,
    ProviderError,
    absolute,
    flat,
    relative,
    unflat,
)

VERSION = "2015-01-09"


def percent_encode(s: str) -> str:
    return urllib.parse.quote(s, safe="~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}"
                         for k, v in sorted(params.items()))
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(method: str, params: Mapping[str, str], secret: str) -> str:
    mac = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


class AliyunDns:
    kind = "aliyun"
    ENDPOINT = "https://alidns.aliyuncs.com/"

    def __init__(self, access_key_id: str, access_key_secret: str, *, endpoint: str = ENDPOINT,
                 timeout: float = 15.0) -> None:
        self.key_id = access_key_id
        self.secret = access_key_secret
        self.endpoint = endpoint
        self.http = JsonClient(timeout)

    def signed_query(self, action: str, params: Mapping[str, str]) -> str:
        p = {"Format": "JSON", "Version": VERSION, "AccessKeyId": self.key_id,
             "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
             "SignatureNonce": secrets.token_hex(16),
             "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "Action": action, **params}
        p["Signature"] = sign("GET", p, self.secret)
        return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in p.items())

    async def call(self, action: str, params: Mapping[str, str]) -> dict[str, object]:
        status, data = await self.http.request(
            "GET", f"{self.endpoint}?{self.signed_query(action, params)}")
        if status != 200 or not isinstance(data, dict) or "Code" in data:
            code = data.get("Code") if isinstance(data, dict) else status
            raise ProviderError(detail=f"aliyun {action}: {code}")
        return data

    async def list_records(self, zone: str) -> list[LiveRecord]:
        out: list[LiveRecord] = []
        page = 1
        while True:
            data = await self.call("DescribeDomainRecords", {
                "DomainName": zone, "PageNumber": str(page), "PageSize": "500"})
            recs = data.get("DomainRecords", {})
            items = recs.get("Record", []) if isinstance(recs, dict) else []
            for it in items:
                prio = it.get("Priority")
                out.append(LiveRecord(absolute(it["RR"], zone), it["Type"],
                                      unflat(it["Type"], it["Value"],
                                             int(prio) if prio is not None else None),
                                      int(it.get("TTL", 600)), str(it["RecordId"])))
            total = int(str(data.get("TotalCount", len(out))))
            if not items or len(out) >= total:
                return out
            page += 1

    async def create(self, zone: str, record: Record) -> None:
        value, prio = flat(record.rtype, record.value)
        params = {"DomainName": zone, "RR": relative(record.name, zone), "Type": record.rtype,
                  "Value": value, "TTL": str(record.ttl)}
        if prio is not None:
            params["Priority"] = str(prio)
        await self.call("AddDomainRecord", params)

    async def delete(self, zone: str, record: LiveRecord) -> None:
        await self.call("DeleteDomainRecord", {"RecordId": record.id})

    async def close(self) -> None:
        await self.http.close()
