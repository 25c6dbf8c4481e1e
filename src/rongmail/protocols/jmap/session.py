"""The JMAP Session resource (RFC 8620 §2) and its capabilities (RFC 8621 §1.3, RFC 8887 §4).

URLs are absolute, built from the request's origin, so the same server works behind any host
name. ``state`` changes whenever the capabilities or the accounts would (here: the account's
identity and limits, which are static per process), so it is a digest of the document.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from rongmail.core.models import Account
from rongmail.protocols.jmap.dispatch import CORE, MAIL, SUBMISSION, VACATION, WEBSOCKET
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.request import Limits

API = "/jmap/api"
UPLOAD = "/jmap/upload/{accountId}"
DOWNLOAD = "/jmap/download/{accountId}/{blobId}/{name}"
EVENTSOURCE = "/jmap/eventsource"
WS = "/jmap/ws"


def capabilities(limits: Limits, ws_url: str) -> dict[str, Any]:
    return {
        CORE: {
            "maxSizeUpload": limits.max_size_upload,
            "maxConcurrentUpload": limits.max_concurrent_upload,
            "maxSizeRequest": limits.max_size_request,
            "maxConcurrentRequests": limits.max_concurrent_requests,
            "maxCallsInRequest": limits.max_calls_in_request,
            "maxObjectsInGet": limits.max_objects_in_get,
            "maxObjectsInSet": limits.max_objects_in_set,
            "collationAlgorithms": ["i;ascii-casemap", "i;unicode-casemap"],
        },
        MAIL: {},
        SUBMISSION: {},
        VACATION: {},
        WEBSOCKET: {"url": ws_url, "supportsPush": True},
    }


def session_resource(account: Account, limits: Limits, origin: str) -> dict[str, Any]:
    aid = ids.encode(ids.ACCOUNT, account.id)
    ws_origin = origin.replace("https://", "wss://").replace("http://", "ws://")
    doc: dict[str, Any] = {
        "capabilities": capabilities(limits, ws_origin + WS),
        "accounts": {aid: {
            "name": account.address,
            "isPersonal": True,
            "isReadOnly": False,
            "accountCapabilities": {
                MAIL: {"maxMailboxesPerEmail": None, "maxMailboxDepth": 16,
                       "maxSizeMailboxName": 255, "maxSizeAttachmentsPerEmail": 50_000_000,
                       "emailQuerySortOptions": ["receivedAt", "sentAt", "size", "from", "to",
                                                 "subject", "hasKeyword",
                                                 "allInThreadHaveKeyword",
                                                 "someInThreadHaveKeyword"],
                       "mayCreateTopLevelMailbox": True},
                SUBMISSION: {"maxDelayedSend": 30 * 86400,
                             "submissionExtensions": {"FUTURERELEASE": []}},
                VACATION: {},
            },
        }},
        "primaryAccounts": {MAIL: aid, SUBMISSION: aid, VACATION: aid},
        "username": account.address,
        "apiUrl": origin + API,
        "downloadUrl": origin + "/jmap/download/{accountId}/{blobId}/{name}?type={type}",
        "uploadUrl": origin + UPLOAD,
        "eventSourceUrl": origin + EVENTSOURCE + "?types={types}&closeafter={closeafter}"
                                                 "&ping={ping}",
    }
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
    doc["state"] = digest
    return doc


@functools.lru_cache(maxsize=4096)
def session_state(account: Account, limits: Limits, origin: str) -> str:
    return str(session_resource(account, limits, origin)["state"])
