"""Cloudflare DNS, REST API v4 with an API token (``Authorization: Bearer``).

``GET /zones?name=<zone>`` finds the zone id; ``GET /zones/{id}/dns_records`` (paged),
``POST`` to create and ``DELETE /zones/{id}/dns_records/{record_id}``. MX carries ``priority``
apart; SRV and CAA are sent as structured ``data`` (as the API documents for those types).
Replies are ``{"success": bool, "errors": [...], "result": ...}``.
"""

from __future__ import annotations

import json
from typing import Any

from rongmail.services.dnswizard.plan import Record, _parse, fqdn
from rongmail.services.dnswizard.providers._http import JsonClient
from rongmail.services.dnswizard.providers.base import LiveRecord, ProviderError, flat, unflat


class Cloudflare:
    kind = "cloudflare"
    ENDPOINT = "https://api.cloudflare.com/client/v4"

    def __init__(self, api_token: str, *, endpoint: str = ENDPOINT, timeout: float = 15.0
                 ) -> None:
        self.token = api_token
        self.endpoint = endpoint.rstrip("/")
        self.http = JsonClient(timeout)
        self._zone_ids: dict[str, str] = {}

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        raw = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            raw = json.dumps(body).encode()
        status, data = await self.http.request(method, self.endpoint + path, headers=headers,
                                               body=raw)
        if not isinstance(data, dict) or not data.get("success"):
            errs = data.get("errors") if isinstance(data, dict) else None
            raise ProviderError(detail=f"cloudflare {method} {path}: HTTP {status} {errs}")
        return data

    async def zone_id(self, zone: str) -> str:
        if zone not in self._zone_ids:
            data = await self.call("GET", f"/zones?name={zone}")
            if not data["result"]:
                raise ProviderError(detail=f"cloudflare: no zone {zone}")
            self._zone_ids[zone] = data["result"][0]["id"]
        return self._zone_ids[zone]

    async def list_records(self, zone: str) -> list[LiveRecord]:
        zid = await self.zone_id(zone)
        out: list[LiveRecord] = []
        page = 1
        while True:
            data = await self.call("GET", f"/zones/{zid}/dns_records?per_page=500&page={page}")
            for it in data["result"]:
                value = _from_cf(it)
                if value is not None:
                    out.append(LiveRecord(fqdn(it["name"]).lower(), it["type"], value,
                                          int(it.get("ttl", 1)), it["id"]))
            info = data.get("result_info") or {}
            if page >= int(info.get("total_pages", 1)):
                return out
            page += 1

    async def create(self, zone: str, record: Record) -> None:
        zid = await self.zone_id(zone)
        body: dict[str, Any] = {"type": record.rtype, "name": record.name.rstrip("."),
                                "ttl": record.ttl}
        rd: Any = _parse(record.rtype, record.value)
        if record.rtype == "SRV":
            body["data"] = {"priority": rd.priority, "weight": rd.weight, "port": rd.port,
                            "target": rd.target.to_text().rstrip(".")}
        elif record.rtype == "CAA":
            body["data"] = {"flags": rd.flags, "tag": rd.tag.decode(),
                            "value": rd.value.decode()}
        else:
            value, prio = flat(record.rtype, record.value)
            body["content"] = value
            if prio is not None:
                body["priority"] = prio
        await self.call("POST", f"/zones/{zid}/dns_records", body)

    async def delete(self, zone: str, record: LiveRecord) -> None:
        zid = await self.zone_id(zone)
        await self.call("DELETE", f"/zones/{zid}/dns_records/{record.id}")

    async def close(self) -> None:
        await self.http.close()


def _from_cf(it: dict[str, Any]) -> str | None:
    t = it.get("type", "")
    data = it.get("data") or {}
    if t == "SRV" and data:
        return f"{data['priority']} {data['weight']} {data['port']} {fqdn(data['target'])}"
    if t == "CAA" and data:
        return f'{data["flags"]} {data["tag"]} "{data["value"]}"'
    if t in ("A", "AAAA", "CNAME", "MX", "TXT", "CAA", "SRV"):
        return unflat(t, it["content"], it.get("priority"))
    return None
