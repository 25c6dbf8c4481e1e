"""Fixtures for POP3 wire tests: a running server on a real SQLite store (see pop3_helpers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pop3_helpers import Pop3Stack


@pytest.fixture
def pop3_factory(tmp_path: Path) -> Iterator[Callable[..., Pop3Stack]]:
    """``pop3_factory(**Pop3Settings overrides)`` starts a server; all are stopped at the end."""
    started: list[Pop3Stack] = []

    def start(**overrides: Any) -> Pop3Stack:
        stack = Pop3Stack(tmp_path / f"s{len(started)}", **overrides)
        started.append(stack)
        return stack

    yield start
    for stack in started:
        stack.stop()


@pytest.fixture
def pop3(pop3_factory: Callable[..., Pop3Stack]) -> Pop3Stack:
    """The default server: plain-text logins only after STLS (or on POP3S)."""
    return pop3_factory()


@pytest.fixture
def pop3_plain(pop3_factory: Callable[..., Pop3Stack]) -> Pop3Stack:
    """A server that accepts USER/PASS without TLS (``allow_plaintext_auth``)."""
    return pop3_factory(allow_plaintext_auth=True)
