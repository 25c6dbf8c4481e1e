"""Fixtures for POP3 end-to-end tests with real clients written by others (fetchmail).

The client is Debian's package, installed with apt-get only when missing
(``peers.apt.ensure``); where that is impossible the tests skip with the reason (and fail under
``CI``, where peers must be available).
"""

from __future__ import annotations

import shutil

import pytest

from peers import PeerUnavailable, skip_or_fail
from peers.apt import ensure

pytestmark = pytest.mark.peer


@pytest.fixture(scope="session")
def fetchmail_bin() -> str:
    try:
        ensure(["fetchmail"])
    except PeerUnavailable as e:
        skip_or_fail(f"fetchmail is not installed and apt-get cannot install it: {e}")
    path = shutil.which("fetchmail")
    if path is None:
        skip_or_fail("fetchmail is not on PATH after installing the Debian package")
    assert path is not None
    return path
