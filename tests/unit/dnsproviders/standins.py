"""Local stand-ins for the DNS providers' APIs (aiohttp), each holding one in-memory zone.

Each stand-in checks what the real service checks, written here independently of the client
code: the request signature recomputed from the request *as received on the wire* (path,
query, headers, body), timestamp freshness, nonce reuse, the documented parameter names and
value formats (Aliyun/DNSPod TXT values unquoted and MX priority apart; Huawei record sets in
zone-file syntax; Cloudflare SRV/CAA as structured ``data``). A failed check answers the
provider's documented error shape, so the client sees what it would see in production.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_ids = itertools.count(1000)


@dataclass
class Rec:
    name: str  # absolute, trailing dot
    type: str
    value: str  # presentation format
    ttl: int = 600
    id: int = field(default_factory=lambda: next(_ids))


@dataclass
class Zone:
    name: str  # "corp.test"
    records: list[Rec] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def rel(self, name: str) -> str:
        z = self.name + "."
        return "@" if name == z else name[: -len(z) - 1]

    def absn(self, rel: str) -> str:
        return self.name + "." if rel == "@" else f"{rel}.{self.name}."

    def values(self, name: str, rtype: str) -> list[str]:
        return [r.value for r in self.records if r.name == name and r.type == rtype]


def _quote_txt(raw: str) -> str:
    b = raw.encode()
    return " ".join('"' + b[i:i + 255].decode().replace('"', '\\"') + '"'
                    for i in range(0, max(len(b), 1), 255))


def _unquote_txt(v: str) -> str:
    import shlex

    return "".join(shlex.split(v))


def _dot(n: str) -> str:
    return n if n.endswith(".") else n + "."


# -- Alibaba Cloud DNS (RPC, signature v1) -----------------------------------------------------

def aliyun_app(zone: Zone, key_id: str, secret: str) -> web.Application:
    seen_nonces: set[str] = set()

    def pe(s: str) -> str:
        return urllib.parse.quote(s, safe="-_.~")

    def err(code: str, status: int = 400) -> web.Response:
        zone.rejected.append(code)
        return web.json_response({"Code": code, "Message": code, "RequestId": "x"},
                                 status=status)

    async def handle(request: web.Request) -> web.Response:
        # parse the raw query string ourselves: what was signed must be what was sent
        pairs = urllib.parse.parse_qsl(request.query_string, keep_blank_values=True)
        params = dict(pairs)
        sig = params.pop("Signature", "")
        canonical = "&".join(pe(k) + "=" + pe(v) for k, v in sorted(params.items()))
        to_sign = request.method + "&%2F&" + pe(canonical)
        want = base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(),
                                         hashlib.sha1).digest()).decode()
        if params.get("AccessKeyId") != key_id:
            return err("InvalidAccessKeyId.NotFound", 404)
        if not hmac.compare_digest(sig, want):
            return err("SignatureDoesNotMatch")
        for k in ("Format", "Version", "SignatureMethod", "SignatureVersion", "Timestamp",
                  "SignatureNonce", "Action"):
            if k not in params:
                return err(f"MissingParameter.{k}")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0" \
                or params["Version"] != "2015-01-09":
            return err("InvalidParameter")
        ts = calendar.timegm(time.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
        if abs(ts - time.time()) > 900:
            return err("InvalidTimeStamp.Expired")
        if params["SignatureNonce"] in seen_nonces:
            return err("SignatureNonceUsed")
        seen_nonces.add(params["SignatureNonce"])
        action = params["Action"]
        zone.calls.append(action)
        if params.get("DomainName", zone.name) != zone.name:
            return err("InvalidDomainName.NoExist")
        if action == "DescribeDomainRecords":
            size = int(params.get("PageSize", "20"))
            page = int(params.get("PageNumber", "1"))
            items = [r for r in zone.records if r.type != "NS"]
            chunk = items[(page - 1) * size: page * size]
            out = []
            for r in chunk:
                it: dict[str, Any] = {"RecordId": str(r.id), "RR": zone.rel(r.name),
                                      "Type": r.type, "TTL": r.ttl, "DomainName": zone.name}
                if r.type == "TXT":
                    it["Value"] = _unquote_txt(r.value)
                elif r.type == "MX":
                    pref, host = r.value.split()
                    it["Value"], it["Priority"] = host.rstrip("."), int(pref)
                elif r.type in ("CNAME",):
                    it["Value"] = r.value.rstrip(".")
                elif r.type == "SRV":
                    p = r.value.split()
                    it["Value"] = " ".join([*p[:3], p[3].rstrip(".")])
                else:
                    it["Value"] = r.value
                out.append(it)
            return web.json_response({"TotalCount": len(items), "PageNumber": page,
                                      "PageSize": size, "DomainRecords": {"Record": out}})
        if action == "AddDomainRecord":
            t, v = params["Type"], params["Value"]
            if t == "TXT" and v.startswith('"'):
                return err("InvalidValue.TxtQuoted")  # the console would store the quotes
            if t == "MX":
                if "Priority" not in params:
                    return err("MissingParameter.Priority")
                v = f"{int(params['Priority'])} {_dot(v)}"
            elif t == "TXT":
                v = _quote_txt(v)
            elif t == "CNAME":
                v = _dot(v)
            elif t == "SRV":
                p = v.split()
                v = " ".join([*p[:3], _dot(p[3])])
            name = zone.absn(params["RR"])
            if v in zone.values(name, t):
                return err("DomainRecordDuplicate")
            rec = Rec(name, t, v, int(params.get("TTL", "600")))
            zone.records.append(rec)
            return web.json_response({"RecordId": str(rec.id), "RequestId": "x"})
        if action == "DeleteDomainRecord":
            rid = int(params["RecordId"])
            if not any(r.id == rid for r in zone.records):
                return err("DomainRecordNotBelongToUser")
            zone.records[:] = [r for r in zone.records if r.id != rid]
            return web.json_response({"RecordId": str(rid), "RequestId": "x"})
        return err("InvalidAction.NotFound", 404)

    app = web.Application()
    app.router.add_get("/", handle)
    return app


# -- Tencent Cloud DNSPod (API 3.0, TC3-HMAC-SHA256) -------------------------------------------

def dnspod_app(zone: Zone, secret_id: str, secret_key: str) -> web.Application:
    def fail(code: str) -> web.Response:
        zone.rejected.append(code)
        return web.json_response({"Response": {"Error": {"Code": code, "Message": code},
                                               "RequestId": "x"}})

    def tc3(body: bytes, host: str, ctype: str, ts: int, date: str) -> str:
        creq = f"POST\n/\n\ncontent-type:{ctype}\nhost:{host}\n\ncontent-type;host\n" \
            + hashlib.sha256(body).hexdigest()
        sts = f"TC3-HMAC-SHA256\n{ts}\n{date}/dnspod/tc3_request\n" \
            + hashlib.sha256(creq.encode()).hexdigest()
        k = ("TC3" + secret_key).encode()
        for part in (date, "dnspod", "tc3_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        auth = request.headers.get("Authorization", "")
        try:
            algo, rest = auth.split(" ", 1)
            fields = dict(x.strip().split("=", 1) for x in rest.split(","))
            cred_id, date, service, term = fields["Credential"].split("/")
        except ValueError:
            return fail("AuthFailure.InvalidAuthorization")
        ts = int(request.headers.get("X-TC-Timestamp", "0"))
        if algo != "TC3-HMAC-SHA256" or service != "dnspod" or term != "tc3_request":
            return fail("AuthFailure.InvalidAuthorization")
        if cred_id != secret_id:
            return fail("AuthFailure.SecretIdNotFound")
        if abs(ts - time.time()) > 300 or date != time.strftime("%Y-%m-%d", time.gmtime(ts)):
            return fail("AuthFailure.SignatureExpire")
        if fields.get("SignedHeaders") != "content-type;host":
            return fail("AuthFailure.InvalidAuthorization")
        want = tc3(body, request.headers["Host"], request.headers.get("Content-Type", ""), ts,
                   date)
        if not hmac.compare_digest(fields.get("Signature", ""), want):
            return fail("AuthFailure.SignatureFailure")
        if request.headers.get("X-TC-Version") != "2021-03-23":
            return fail("InvalidParameter.Version")
        action = request.headers.get("X-TC-Action", "")
        p = json.loads(body)
        zone.calls.append(action)
        if p.get("Domain") != zone.name:
            return fail("InvalidParameter.DomainNotExist")
        if action == "DescribeRecordList":
            items = zone.records[int(p.get("Offset", 0)):][: int(p.get("Limit", 100))]
            if not zone.records:
                return fail("ResourceNotFound.NoDataOfRecord")
            out = []
            for r in items:
                it: dict[str, Any] = {"RecordId": r.id, "Name": zone.rel(r.name),
                                      "Type": r.type, "TTL": r.ttl, "Line": "\u9ed8\u8ba4",
                                      "MX": 0}
                if r.type == "TXT":
                    it["Value"] = _unquote_txt(r.value)
                elif r.type == "MX":
                    pref, host = r.value.split()
                    it["Value"], it["MX"] = host, int(pref)
                else:
                    it["Value"] = r.value
                out.append(it)
            return web.json_response({"Response": {
                "RecordCountInfo": {"TotalCount": len(zone.records)}, "RecordList": out,
                "RequestId": "x"}})
        if action == "CreateRecord":
            for k in ("SubDomain", "RecordType", "RecordLine", "Value"):
                if k not in p:
                    return fail(f"MissingParameter.{k}")
            if p["RecordLine"] != "\u9ed8\u8ba4":
                return fail("InvalidParameter.RecordLineInvalid")
            t, v = p["RecordType"], p["Value"]
            if t == "MX":
                if not p.get("MX"):
                    return fail("InvalidParameter.MXInvalid")
                v = f"{int(p['MX'])} {_dot(v)}"
            elif t == "TXT":
                if v.startswith('"'):
                    return fail("InvalidParameter.TxtQuoted")
                v = _quote_txt(v)
            elif t == "CNAME":
                v = _dot(v)
            elif t == "SRV":
                q = v.split()
                v = " ".join([*q[:3], _dot(q[3])])
            rec = Rec(zone.absn(p["SubDomain"]), t, v, int(p.get("TTL", 600)))
            zone.records.append(rec)
            return web.json_response({"Response": {"RecordId": rec.id, "RequestId": "x"}})
        if action == "DeleteRecord":
            rid = int(p["RecordId"])
            if not any(r.id == rid for r in zone.records):
                return fail("InvalidParameter.RecordIdInvalid")
            zone.records[:] = [r for r in zone.records if r.id != rid]
            return web.json_response({"Response": {"RequestId": "x"}})
        return fail("InvalidAction")

    app = web.Application()
    app.router.add_post("/", handle)
    return app


# -- Huawei Cloud DNS (APIG SDK-HMAC-SHA256) ---------------------------------------------------

def huawei_app(zone: Zone, ak: str, sk: str) -> web.Application:
    zone_id = "ff8080825b8fc86c015b94bc6f8712c3"

    def fail(status: int, code: str) -> web.Response:
        zone.rejected.append(code)
        return web.json_response({"code": code, "message": code}, status=status)

    async def verify(request: web.Request, body: bytes) -> str | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("SDK-HMAC-SHA256 "):
            return "APIGW.0301"
        fields = dict(x.strip().split("=", 1) for x in auth[len("SDK-HMAC-SHA256 "):].split(","))
        if fields.get("Access") != ak:
            return "APIGW.0301"
        signed = fields.get("SignedHeaders", "").split(";")
        if "x-sdk-date" not in signed or "host" not in signed:
            return "APIGW.0301"
        date = request.headers.get("X-Sdk-Date", "")
        then = calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ"))
        if abs(then - time.time()) > 900:
            return "APIGW.0303"
        # canonical request from the request as received
        raw_path = request.raw_path.split("?", 1)[0]
        segs = [urllib.parse.quote(urllib.parse.unquote(s), safe="-_.~")
                for s in raw_path.split("/")]
        uri = "/".join(segs)
        uri = uri if uri.endswith("/") else uri + "/"
        q = sorted(urllib.parse.parse_qsl(request.query_string, keep_blank_values=True))
        qs = "&".join(urllib.parse.quote(k, safe="-_.~") + "=" + urllib.parse.quote(v, safe="-_.~")
                      for k, v in q)
        hdrs = "".join(f"{h}:{request.headers.get(h, '').strip()}\n" for h in signed)
        creq = "\n".join([request.method, uri, qs, hdrs, ";".join(signed),
                          hashlib.sha256(body).hexdigest()])
        sts = "SDK-HMAC-SHA256\n" + date + "\n" + hashlib.sha256(creq.encode()).hexdigest()
        want = hmac.new(sk.encode(), sts.encode(), hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(fields.get("Signature", ""), want) else "APIGW.0301"

    set_ids: dict[tuple[str, str], str] = {}  # record set ids are stable across updates

    def sets() -> list[dict[str, Any]]:
        grouped: dict[tuple[str, str], list[Rec]] = {}
        for r in zone.records:
            grouped.setdefault((r.name, r.type), []).append(r)
        for key, rs in grouped.items():
            set_ids.setdefault(key, f"rs-{rs[0].id}")
        return [{"id": set_ids[(n, t)], "name": n, "type": t, "ttl": rs[0].ttl,
                 "records": [r.value for r in rs], "zone_id": zone_id}
                for (n, t), rs in grouped.items()]

    def find(set_id: str) -> dict[str, Any] | None:
        return next((s for s in sets() if s["id"] == set_id), None)

    def check_values(t: str, values: list[str]) -> bool:
        # record sets take zone-file syntax: TXT quoted, names absolute
        if t == "TXT":
            return all(v.startswith('"') and v.endswith('"') for v in values)
        if t in ("MX", "CNAME", "SRV"):
            return all(v.endswith(".") for v in values)
        return True

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        problem = await verify(request, body)
        if problem:
            return fail(401, problem)
        zone.calls.append(f"{request.method} {request.path}")
        return await handler(request)

    async def zones(request: web.Request) -> web.Response:
        name = request.query.get("name", "")
        zs = [{"id": zone_id, "name": zone.name + "."}] if name in ("", zone.name + ".") else []
        return web.json_response({"zones": zs, "metadata": {"total_count": len(zs)}})

    def zid_ok(request: web.Request) -> bool:
        return request.match_info["zid"] == zone_id

    async def list_sets(request: web.Request) -> web.Response:
        if not zid_ok(request):
            return fail(404, "DNS.0101")
        out = sets()
        if "name" in request.query:
            out = [s for s in out if s["name"] == request.query["name"]]
        if "type" in request.query:
            out = [s for s in out if s["type"] == request.query["type"]]
        off, lim = int(request.query.get("offset", 0)), int(request.query.get("limit", 500))
        return web.json_response({"recordsets": out[off:off + lim],
                                  "metadata": {"total_count": len(out)}})

    async def create_set(request: web.Request) -> web.Response:
        p = await request.json()
        if not check_values(p["type"], p["records"]):
            return fail(400, "DNS.0308")
        if any(s["name"] == p["name"] and s["type"] == p["type"] for s in sets()):
            return fail(400, "DNS.0312")  # record set exists: must PUT
        for v in p["records"]:
            zone.records.append(Rec(p["name"], p["type"], v, int(p.get("ttl", 300))))
        return web.json_response({"id": "new"}, status=202)

    async def get_set(request: web.Request) -> web.Response:
        s = find(request.match_info["sid"])
        return web.json_response(s) if s else fail(404, "DNS.0304")

    async def put_set(request: web.Request) -> web.Response:
        s = find(request.match_info["sid"])
        if s is None:
            return fail(404, "DNS.0304")
        p = await request.json()
        if not check_values(s["type"], p["records"]):
            return fail(400, "DNS.0308")
        zone.records[:] = [r for r in zone.records
                           if not (r.name == s["name"] and r.type == s["type"])]
        for v in p["records"]:
            zone.records.append(Rec(s["name"], s["type"], v, int(p.get("ttl", s["ttl"]))))
        return web.json_response(s, status=202)

    async def delete_set(request: web.Request) -> web.Response:
        s = find(request.match_info["sid"])
        if s is None:
            return fail(404, "DNS.0304")
        zone.records[:] = [r for r in zone.records
                           if not (r.name == s["name"] and r.type == s["type"])]
        return web.json_response(s, status=202)

    app = web.Application(middlewares=[auth])
    app.router.add_get("/v2/zones", zones)
    app.router.add_get("/v2/zones/{zid}/recordsets", list_sets)
    app.router.add_post("/v2/zones/{zid}/recordsets", create_set)
    app.router.add_get("/v2/zones/{zid}/recordsets/{sid}", get_set)
    app.router.add_put("/v2/zones/{zid}/recordsets/{sid}", put_set)
    app.router.add_delete("/v2/zones/{zid}/recordsets/{sid}", delete_set)
    return app


# -- Cloudflare (API v4, bearer token) ---------------------------------------------------------

def cloudflare_app(zone: Zone, token: str) -> web.Application:
    zid = "023e105f4ecef8ad9ca31a8372d0c353"

    def fail(status: int, code: int, msg: str) -> web.Response:
        zone.rejected.append(msg)
        return web.json_response({"success": False, "errors": [{"code": code, "message": msg}],
                                  "messages": [], "result": None}, status=status)

    def ok(result: Any, **extra: Any) -> web.Response:
        return web.json_response({"success": True, "errors": [], "messages": [],
                                  "result": result, **extra})

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return fail(403, 10000, "Authentication error")
        zone.calls.append(f"{request.method} {request.path}")
        return await handler(request)

    def to_cf(r: Rec) -> dict[str, Any]:
        it: dict[str, Any] = {"id": f"cf{r.id}", "name": r.name.rstrip("."), "type": r.type,
                              "ttl": r.ttl, "zone_id": zid}
        if r.type == "MX":
            pref, host = r.value.split()
            it["content"], it["priority"] = host.rstrip("."), int(pref)
        elif r.type == "TXT":
            it["content"] = _unquote_txt(r.value)
        elif r.type == "SRV":
            p = r.value.split()
            it["priority"] = int(p[0])
            it["content"] = f"{p[1]} {p[2]} {p[3].rstrip('.')}"
            it["data"] = {"priority": int(p[0]), "weight": int(p[1]), "port": int(p[2]),
                          "target": p[3].rstrip(".")}
        elif r.type == "CAA":
            flags, tag, value = r.value.split(" ", 2)
            it["content"] = r.value
            it["data"] = {"flags": int(flags), "tag": tag, "value": value.strip('"')}
        else:
            it["content"] = r.value.rstrip(".") if r.type == "CNAME" else r.value
        return it

    async def zones(request: web.Request) -> web.Response:
        if request.query.get("name") != zone.name:
            return ok([])
        return ok([{"id": zid, "name": zone.name}])

    async def list_records(request: web.Request) -> web.Response:
        per = int(request.query.get("per_page", 100))
        page = int(request.query.get("page", 1))
        items = [to_cf(r) for r in zone.records]
        pages = max(1, -(-len(items) // per))
        return ok(items[(page - 1) * per: page * per],
                  result_info={"page": page, "per_page": per, "total_pages": pages,
                               "total_count": len(items)})

    async def create(request: web.Request) -> web.Response:
        if request.match_info["zid"] != zid:
            return fail(404, 7003, "Could not route")
        if request.content_type != "application/json":
            return fail(400, 9207, "Request must be JSON")
        p = await request.json()
        t = p.get("type")
        name = _dot(p["name"])
        if not name.endswith(zone.name + "."):
            return fail(400, 9005, "name not in zone")
        if t in ("SRV", "CAA"):
            d = p.get("data")
            if not isinstance(d, dict):
                return fail(400, 9101, f"{t} needs data")
            v = (f"{d['priority']} {d['weight']} {d['port']} {_dot(d['target'])}" if t == "SRV"
                 else f'{d["flags"]} {d["tag"]} "{d["value"]}"')
        elif t == "MX":
            if "priority" not in p:
                return fail(400, 9100, "MX needs priority")
            v = f"{int(p['priority'])} {_dot(p['content'])}"
        elif t == "TXT":
            v = _quote_txt(p["content"])
        elif t == "CNAME":
            v = _dot(p["content"])
        else:
            v = p["content"]
        if v in zone.values(name, t):
            return fail(400, 81057, "Record already exists")
        rec = Rec(name, t, v, int(p.get("ttl", 1)))
        zone.records.append(rec)
        return ok(to_cf(rec))

    async def delete(request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        if not any(f"cf{r.id}" == rid for r in zone.records):
            return fail(404, 81044, "Record does not exist")
        zone.records[:] = [r for r in zone.records if f"cf{r.id}" != rid]
        return ok({"id": rid})

    app = web.Application(middlewares=[auth])
    app.router.add_get("/client/v4/zones", zones)
    app.router.add_get("/client/v4/zones/{zid}/dns_records", list_records)
    app.router.add_post("/client/v4/zones/{zid}/dns_records", create)
    app.router.add_delete("/client/v4/zones/{zid}/dns_records/{rid}", delete)
    return app
