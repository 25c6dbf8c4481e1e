"""The sans-IO JMAP core: request parsing and limits (RFC 8620 §3.3, §3.6.1), JSON Pointer
with ``*`` and result references (§3.7), error mapping (§3.6.2), ids. No server involved."""

from __future__ import annotations

import json

import pytest

from rongmail import errors
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import (
    MethodError,
    RequestError,
    method_error_from,
    set_error_from,
)
from rongmail.protocols.jmap.proto.refs import evaluate_pointer, resolve_references
from rongmail.protocols.jmap.proto.request import Limits, parse_request

CAPS = ("urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail")


def req(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_parse_rfc_request_example() -> None:
    """RFC 8620 §3.3.1 example request."""
    body = req({"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
                "methodCalls": [["method1", {"arg1": "arg1data", "arg2": "arg2data"}, "c1"],
                                ["method2", {"arg1": "arg1data"}, "c2"],
                                ["method3", {}, "c3"]]})
    r = parse_request(body, Limits(), CAPS)
    assert [c.name for c in r.calls] == ["method1", "method2", "method3"]
    assert r.calls[0].arguments == {"arg1": "arg1data", "arg2": "arg2data"}
    assert r.calls[2].call_id == "c3" and r.created_ids is None


@pytest.mark.parametrize(("body", "type_"), [
    (b"\xff\xfe", "notJSON"),
    (b"[1, 2", "notJSON"),
    (b"[]", "notRequest"),
    (req({"using": [], "methodCalls": {}}), "notRequest"),
    (req({"using": [1], "methodCalls": []}), "notRequest"),
    (req({"using": [], "methodCalls": [["a", {}, 3]]}), "notRequest"),
    (req({"using": [], "methodCalls": [["a", [], "0"]]}), "notRequest"),
    (req({"using": [], "methodCalls": [], "createdIds": {"a": 1}}), "notRequest"),
    (req({"using": ["urn:x"], "methodCalls": []}), "unknownCapability"),
])
def test_request_errors(body: bytes, type_: str) -> None:
    with pytest.raises(RequestError) as e:
        parse_request(body, Limits(), CAPS)
    assert e.value.type == type_
    assert e.value.to_json()["type"] == f"urn:ietf:params:jmap:error:{type_}"
    assert e.value.to_json()["status"] == 400


def test_limits() -> None:
    limits = Limits(max_size_request=100, max_calls_in_request=2)
    with pytest.raises(RequestError) as e:
        parse_request(b" " * 101, limits, CAPS)
    assert e.value.extra["limit"] == "maxSizeRequest"
    body = req({"using": [], "methodCalls": [["a", {}, "1"]] * 3})
    with pytest.raises(RequestError) as e:
        parse_request(body, Limits(max_calls_in_request=2), CAPS)
    assert e.value.extra["limit"] == "maxCallsInRequest"


def test_pointer_rfc_examples() -> None:
    """RFC 8620 §3.7: ``/list/*/threadId`` maps, ``/list/*/emailIds`` flattens."""
    doc = {"list": [{"id": "t1", "emailIds": ["e1", "e2"], "threadId": "T1"},
                    {"id": "t2", "emailIds": ["e3"], "threadId": "T2"}]}
    assert evaluate_pointer(doc, "/list/*/threadId") == ["T1", "T2"]
    assert evaluate_pointer(doc, "/list/*/emailIds") == ["e1", "e2", "e3"]
    assert evaluate_pointer(doc, "/list/1/id") == "t2"
    assert evaluate_pointer({"a/b": {"m~n": 1}}, "/a~1b/m~0n") == 1


def test_resolve_references() -> None:
    previous = [["Email/query", {"ids": ["E1", "E2"]}, "t0"]]
    args = {"accountId": "A1", "#ids": {"resultOf": "t0", "name": "Email/query",
                                        "path": "/ids"}}
    assert resolve_references(args, previous) == {"accountId": "A1", "ids": ["E1", "E2"]}
    for bad in ({"resultOf": "zz", "name": "Email/query", "path": "/ids"},
                {"resultOf": "t0", "name": "Email/get", "path": "/ids"},
                {"resultOf": "t0", "name": "Email/query", "path": "/nope"},
                {"resultOf": "t0", "name": "Email/query", "path": "ids"},
                {"resultOf": "t0"}, "x"):
        with pytest.raises(MethodError) as e:
            resolve_references({"#ids": bad}, previous)
        assert e.value.type == "invalidResultReference"
    with pytest.raises(MethodError) as e:
        resolve_references({"ids": [], "#ids": args["#ids"]}, previous)
    assert e.value.type == "invalidArguments"
    # references nested in a filter (sent by jmapc) are resolved; creation ids are left alone
    nested = {"filter": {"operator": "AND", "conditions": [
        {"#inMailbox": {"resultOf": "t0", "name": "Email/query", "path": "/ids/0"}}]},
        "create": {"x": {"mailboxIds": {"#mb": True}}}}
    out = resolve_references(nested, previous)
    assert out["filter"]["conditions"][0] == {"inMailbox": "E1"}
    assert out["create"] == nested["create"]


def test_error_mapping_never_leaks_internals() -> None:
    assert method_error_from(errors.ValidationError(what="x")).type == "invalidArguments"
    assert method_error_from(errors.RateLimited()).type == "rateLimit"
    err = method_error_from(RuntimeError("/var/lib/secret.db is locked"))
    assert err.type == "serverFail" and "secret" not in (err.description or "")
    assert set_error_from(errors.NotFound(what="x")).type == "notFound"
    assert set_error_from(errors.QuotaExceeded(quota=1)).type == "overQuota"
    assert set_error_from(KeyError("k")).type == "serverFail"


def test_ids() -> None:
    assert ids.decode(ids.EMAIL, ids.encode(ids.EMAIL, 42)) == 42
    for bad in ("M42", "E", "E042", "E-1", "E1x", 42, None, "E" + "9" * 30):
        assert ids.decode(ids.EMAIL, bad) is None
    hexid = "ab" * 32
    assert ids.parse_blob_id(ids.blob_id(hexid, "1.2")) == (hexid, "1.2")
    assert ids.parse_blob_id(ids.blob_id(hexid)) == (hexid, None)
    for bad in ("G", "Gxyz", f"G{hexid}_a", f"X{hexid}", f"G{hexid}_1..2"):
        assert ids.parse_blob_id(bad) is None


def test_max_concurrent_requests_slot() -> None:
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from rongmail.protocols.jmap.proto.errors import RequestError
    from rongmail.protocols.jmap.server import _INFLIGHT, slot

    app = web.Application()
    app[_INFLIGHT] = {}
    req = make_mocked_request("POST", "/jmap/api", app=app)
    with slot(req, 1, "request", 2, "maxConcurrentRequests"):
        with slot(req, 1, "request", 2, "maxConcurrentRequests"):
            with pytest.raises(RequestError) as e:
                with slot(req, 1, "request", 2, "maxConcurrentRequests"):
                    pass
            assert e.value.extra == {"limit": "maxConcurrentRequests"}
            with slot(req, 2, "request", 2, "maxConcurrentRequests"):  # other account
                pass
    assert app[_INFLIGHT][(1, "request")] == 0

