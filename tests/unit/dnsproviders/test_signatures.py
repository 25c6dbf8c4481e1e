"""Signature algorithms against documented examples and hand-derived values."""

from __future__ import annotations

import hashlib
import hmac

from rongmail.services.dnswizard.providers import aliyun, dnspod, huaweicloud


def test_aliyun_documented_example() -> None:
    """The worked example of Alibaba Cloud's RPC signature documentation (Alidns)."""
    params = {"Format": "XML", "AccessKeyId": "testid", "Action": "DescribeDomainRecords",
              "SignatureMethod": "HMAC-SHA1", "DomainName": "example.com",
              "SignatureNonce": "f59ed6a9-83fc-473b-9cc6-99c95df3856e",
              "SignatureVersion": "1.0", "Version": "2015-01-09",
              "Timestamp": "2016-03-24T16:41:54Z"}
    sts = aliyun.string_to_sign("GET", params)
    assert sts == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeDomainRecords%26DomainName%3Dexample.com"
        "%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Df59ed6a9-83fc-473b-"
        "9cc6-99c95df3856e%26SignatureVersion%3D1.0%26Timestamp%3D2016-03-24T16%253A41%253A54Z"
        "%26Version%3D2015-01-09")
    assert aliyun.sign("GET", params, "testsecret") == "uRpHwaSEt3J+6KQD//svCh/x+pI="


def test_aliyun_percent_encoding_rules() -> None:
    # RFC 3986 unreserved kept; space %20 (not +); * and / encoded; UTF-8 octets
    assert aliyun.percent_encode("a b*~/_.-") == "a%20b%2A~%2F_.-"
    assert aliyun.percent_encode("\u4e2d") == "%E4%B8%AD"


def test_tc3_matches_step_by_step_derivation() -> None:
    """TC3-HMAC-SHA256 recomputed step by step as Tencent Cloud documents it."""
    payload = b'{"Domain":"corp.test","Limit":1}'
    ts = 1551113065  # 2019-02-25 16:44:25 UTC
    got = dnspod.tc3_authorization("AKIDEXAMPLE", "SECRETEXAMPLE", "dnspod.tencentcloudapi.com",
                                   payload, ts)
    creq = ("POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
            "host:dnspod.tencentcloudapi.com\n\ncontent-type;host\n"
            + hashlib.sha256(payload).hexdigest())
    sts = ("TC3-HMAC-SHA256\n1551113065\n2019-02-25/dnspod/tc3_request\n"
           + hashlib.sha256(creq.encode()).hexdigest())
    k_date = hmac.new(b"TC3SECRETEXAMPLE", b"2019-02-25", hashlib.sha256).digest()
    k_service = hmac.new(k_date, b"dnspod", hashlib.sha256).digest()
    k_signing = hmac.new(k_service, b"tc3_request", hashlib.sha256).digest()
    sig = hmac.new(k_signing, sts.encode(), hashlib.sha256).hexdigest()
    assert got == ("TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2019-02-25/dnspod/tc3_request, "
                   f"SignedHeaders=content-type;host, Signature={sig}")


def test_huawei_canonical_request() -> None:
    headers = {"Content-Type": "application/json", "Host": "dns.myhuaweicloud.com",
               "X-Sdk-Date": "20191115T033655Z"}
    creq, signed = huaweicloud.canonical_request(
        "GET", "/v2/zones", {"type": "public", "name": "corp.test."}, headers, b"")
    assert signed == "content-type;host;x-sdk-date"
    assert creq == ("GET\n/v2/zones/\nname=corp.test.&type=public\n"
                    "content-type:application/json\nhost:dns.myhuaweicloud.com\n"
                    "x-sdk-date:20191115T033655Z\n\ncontent-type;host;x-sdk-date\n"
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    auth = huaweicloud.authorization("AK", "SK", "GET", "/v2/zones",
                                     {"type": "public", "name": "corp.test."}, headers, b"")
    sts = ("SDK-HMAC-SHA256\n20191115T033655Z\n" + hashlib.sha256(creq.encode()).hexdigest())
    assert auth == ("SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host;x-sdk-date, "
                    "Signature=" + hmac.new(b"SK", sts.encode(), hashlib.sha256).hexdigest())
