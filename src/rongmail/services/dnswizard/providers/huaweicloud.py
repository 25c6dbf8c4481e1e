"""Huawei Cloud DNS (API v2) signed with the APIG "SDK-HMAC-SHA256" AK/SK scheme.

Signing (Huawei Cloud API Gateway AK/SK documentation): ``CanonicalRequest = Method\\n``
+ URI (each segment percent-encoded, always ending with ``/``) + ``\\n`` + sorted, encoded query
+ ``\\n`` + canonical headers (``name:value\\n``, lower-case names, sorted) + ``\\n`` + signed
header names joined by ``;`` + ``\\n`` + hex(SHA-256(body)); ``StringToSign =
SDK-HMAC-SHA256\\n<X-Sdk-Date>\\nhex(SHA-256(CanonicalRequest))``; the signature is
hex(HMAC-SHA256(SK, StringToSign)) in ``Authorization: SDK-HMAC-SHA256 Access=<AK>,
SignedHeaders=<...>, Signature=<...>``. ``X-Sdk-Date`` is ``YYYYMMDDTHHMMSSZ`` (UTC).

Huawei DNS holds record *sets* (one per name and type, values in presentation format), so a
create adds a value to an existing set (PUT) or makes a new set (POST); a delete removes one
value, and the set itself only when no value is left (foreign values in the set are kept).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from rongmail.services.dnswizard.plan import Record, fqdn
from rongmail.services.dnswizard.providers._http import JsonClient
from rongmail.services.dnswizard.providers.base import LiveRecord, ProviderError, canon

ALGORITHM = "SDK-HMAC-SHA256"


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="~")


def canonical_request(method: str, path: str, query: Mapping[str, str],
                      headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """(canonical request, signed headers)."""
    uri = "/".join(_q(seg) for seg in path.split("/"))
    if not uri.endswith("/"):
        uri += "/"
    qs = "&".join(f"{_q(k)}={_q(v)}" for k, v in sorted(query.items()))
    lowered = sorted((k.lower(), v.strip()) for k, v in headers.items())
    signed = ";".join(k for k, _ in lowered)
    canon_headers = "".join(f"{k}:{v}\n" for k, v in lowered)
    return "\n".join([method, uri, qs, canon_headers, signed,
                      hashlib.sha256(body).hexdigest()]), signed


def authorization(ak: str, sk: str, method: str, path: str, query: Mapping[str, str],
                  headers: Mapping[str, str], body: bytes) -> str:
    creq, signed = canonical_request(method, path, query, headers, body)
    to_sign = "\n".join([ALGORITHM, headers["X-Sdk-Date"],
                         hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Access={ak}, SignedHeaders={signed}, Signature={sig}"


class HuaweiDns:
    kind = "huaweicloud"
    ENDPOINT = "https://dns.myhuaweicloud.com"

    def __init__(self, access_key: str, secret_key: str, *, endpoint: str = ENDPOINT,
                 timeout: float = 15.0) -> None:
        self.ak = access_key
        self.sk = secret_key
        self.endpoint = endpoint.rstrip("/")
        self.host = urllib.parse.urlsplit(self.endpoint).netloc
        self.http = JsonClient(timeout)
        self._zone_ids: dict[str, str] = {}

    async def call(self, method: str, path: str, query: Mapping[str, str] | None = None,
                   body: dict[str, Any] | None = None) -> Any:
        raw = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json", "Host": self.host,
                   "X-Sdk-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())}
        q = dict(query or {})
        headers["Authorization"] = authorization(self.ak, self.sk, method, path, q, headers,
                                                 raw)
        url = self.endpoint + path + (("?" + urllib.parse.urlencode(q)) if q else "")
        status, data = await self.http.request(method, url, headers=headers,
                                               body=raw if body is not None else None)
        if status >= 300:
            code = data.get("code") if isinstance(data, dict) else ""
            raise ProviderError(detail=f"huaweicloud {method} {path}: HTTP {status} {code}")
        return data

    async def zone_id(self, zone: str) -> str:
        if zone not in self._zone_ids:
            data = await self.call("GET", "/v2/zones", {"name": fqdn(zone), "type": "public"})
            match = [z for z in data.get("zones", [])
                     if z.get("name", "").lower() == fqdn(zone).lower()]
            if not match:
                raise ProviderError(detail=f"huaweicloud: no zone {zone}")
            self._zone_ids[zone] = match[0]["id"]
        return self._zone_ids[zone]

    async def _sets(self, zid: str, query: dict[str, str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            data = await self.call("GET", f"/v2/zones/{zid}/recordsets",
                                   {**query, "limit": "500", "offset": str(len(out))})
            items = data.get("recordsets", [])
            out += items
            total = int((data.get("metadata") or {}).get("total_count", len(out)))
            if not items or len(out) >= total:
                return out

    async def list_records(self, zone: str) -> list[LiveRecord]:
        zid = await self.zone_id(zone)
        return [LiveRecord(s["name"].lower(), s["type"], v, int(s.get("ttl", 300)), s["id"])
                for s in await self._sets(zid, {}) for v in s.get("records", [])]

    async def create(self, zone: str, record: Record) -> None:
        zid = await self.zone_id(zone)
        existing = [s for s in await self._sets(zid, {"name": record.name, "type": record.rtype})
                    if s["name"].lower() == record.name.lower() and s["type"] == record.rtype]
        if existing:
            s = existing[0]
            await self.call("PUT", f"/v2/zones/{zid}/recordsets/{s['id']}",
                            body={"records": [*s["records"], record.value],
                                  "ttl": int(s.get("ttl", record.ttl))})
        else:
            await self.call("POST", f"/v2/zones/{zid}/recordsets",
                            body={"name": record.name, "type": record.rtype,
                                  "records": [record.value], "ttl": record.ttl})

    async def delete(self, zone: str, record: LiveRecord) -> None:
        zid = await self.zone_id(zone)
        s = await self.call("GET", f"/v2/zones/{zid}/recordsets/{record.id}")
        target = record.canon()
        keep = [v for v in s.get("records", []) if canon(record.rtype, v) != target]
        if keep:
            await self.call("PUT", f"/v2/zones/{zid}/recordsets/{record.id}",
                            body={"records": keep, "ttl": int(s.get("ttl", record.ttl))})
        else:
            await self.call("DELETE", f"/v2/zones/{zid}/recordsets/{record.id}")

    async def close(self) -> None:
        await self.http.close()
