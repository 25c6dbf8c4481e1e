"""Corpus test of ``with_prepended_header`` (delivery parses a message once): for every message
of the shared MIME corpora, the parse derived for trace headers + message equals a full parse
of those bytes whenever the derivation is offered, and it is offered for most clean mail."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_mime_corpus import _archive, iter_tar_zst

from rongmail.mime.parse import parse_message, with_prepended_header

pytestmark = pytest.mark.corpus

BLOCK = (
    b"Received: from client.test (client.test [127.0.0.1])\r\n"
    b"\tby mx.example.test with ESMTP id 0123456789AB; Fri, 27 Nov 2026 11:32:16 +0000\r\n"
    b"Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=client.test\r\n"
    b"X-RongMail-Spam: deliver; score=0.5; tags=SPF_PASS(-0.5)\r\n"
)


@pytest.mark.parametrize("folder", ["mime_test_messages", "trec06c_subset"])
def test_derived_parse_equals_full_parse(shared_data: Path, folder: str) -> None:
    total = offered = 0
    for name, raw in iter_tar_zst(_archive(shared_data, folder)):
        if name.endswith((".csv", ".md", "COPYING")):
            continue
        total += 1
        got = with_prepended_header(parse_message(raw), raw, BLOCK)
        if got is not None:
            offered += 1
            assert got == parse_message(BLOCK + raw), name
    assert total >= 400
    assert offered >= total // 4, (offered, total)
