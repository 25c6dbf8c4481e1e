"""Tencent Cloud DNSPod, API 3.0 (version 2021-03-23), signed with TC3-HMAC-SHA256.

Signing (Tencent Cloud "Signature v3"): ``CanonicalRequest = POST\\n/\\n\\n`` + canonical headers
(``content-type:application/json; charset=utf-8\\nhost:<host>\\n``) + ``\\n`` + signed headers
(``content-type;host``) + ``\\n`` + hex(SHA-256(payload)); ``StringToSign = TC3-HMAC-SHA256\\n``
+ timestamp + ``\\n`` + ``<UTC date>/dnspod/tc3_request`` + ``\\n`` + hex(SHA-256(canonical
request)); the key is derived ``HMAC("TC3"+SecretKey, date) → service → "tc3_request"``; the
``Authorization`` header carries Credential, SignedHeaders and the hex signature, with
``X-TC-Action``, ``X-TC-Timestamp`` and ``X-TC-Version``.

Actions: ``DescribeRecordList`` (paged; an empty zone answers
``ResourceNotFound.NoDataOfRecord``), ``CreateRecord`` (``SubDomain``, ``RecordType``,
``RecordLine`` = the default line, ``Value``, ``MX``, ``TTL``), ``DeleteRecord``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any

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

SERVICE = "dnspod"
VERSION = "2021-03-23"
CONTENT_TYPE = "application/json; charset=utf-8"
#: DNSPod's name of the default resolution line ("default" in Chinese); RecordLineId "0" too
DEFAULT_LINE = "\u9ed8\u8ba4"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_authorization(secret_id: str, secret_key: str, host: str, payload: bytes,
                      timestamp: int, *, service: str = SERVICE) -> str:
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    canonical = "\n".join(["POST", "/", "", f"content-type:{CONTENT_TYPE}\nhost:{host}\n",
                           "content-type;host", hashlib.sha256(payload).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
            f"SignedHeaders=content-type;host, Signature={signature}")


class DnsPod:
    kind = "dnspod"
    ENDPOINT = "https://dnspod.tencentcloudapi.com/"

    def __init__(self, secret_id: str, secret_key: str, *, endpoint: str = ENDPOINT,
                 timeout: float = 15.0) -> None:
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.endpoint = endpoint
        self.host = urllib.parse.urlsplit(endpoint).netloc
        self.http = JsonClient(timeout)

    async def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode()
        ts = int(time.time())
        headers = {"Authorization": tc3_authorization(self.secret_id, self.secret_key,
                                                      self.host, payload, ts),
                   "Content-Type": CONTENT_TYPE, "Host": self.host, "X-TC-Action": action,
                   "X-TC-Timestamp": str(ts), "X-TC-Version": VERSION}
        status, data = await self.http.request("POST", self.endpoint, headers=headers,
                                               body=payload)
        resp = data.get("Response") if isinstance(data, dict) else None
        if not isinstance(resp, dict):
            raise ProviderError(detail=f"dnspod {action}: HTTP {status}")
        return resp

    async def list_records(self, zone: str) -> list[LiveRecord]:
        out: list[LiveRecord] = []
        while True:
            resp = await self.call("DescribeRecordList",
                                   {"Domain": zone, "Offset": len(out), "Limit": 3000})
            err = resp.get("Error")
            if err:
                if err.get("Code") == "ResourceNotFound.NoDataOfRecord":
                    return out
                raise ProviderError(detail=f"dnspod DescribeRecordList: {err.get('Code')}")
            items = resp.get("RecordList") or []
            for it in items:
                out.append(LiveRecord(absolute(it["Name"], zone), it["Type"],
                                      unflat(it["Type"], it["Value"], it.get("MX")),
                                      int(it.get("TTL", 600)), str(it["RecordId"])))
            total = int((resp.get("RecordCountInfo") or {}).get("TotalCount", len(out)))
            if not items or len(out) >= total:
                return out

    async def _checked(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        resp = await self.call(action, params)
        if resp.get("Error"):
            raise ProviderError(detail=f"dnspod {action}: {resp['Error'].get('Code')}")
        return resp

    async def create(self, zone: str, record: Record) -> None:
        value, prio = flat(record.rtype, record.value)
        params: dict[str, Any] = {"Domain": zone, "SubDomain": relative(record.name, zone),
                                  "RecordType": record.rtype, "RecordLine": DEFAULT_LINE,
                                  "RecordLineId": "0", "Value": value, "TTL": record.ttl}
        if prio is not None:
            params["MX"] = prio
        await self._checked("CreateRecord", params)

    async def delete(self, zone: str, record: LiveRecord) -> None:
        await self._checked("DeleteRecord", {"Domain": zone, "RecordId": int(record.id)})

    async def close(self) -> None:
        await self.http.close()
