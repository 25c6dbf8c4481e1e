"""SMTP against swaks, a client written by others (DESIGN.md rule 11): pipelining, STARTTLS,
AUTH PLAIN/LOGIN on 587 and 465, relay denial. Marked ``peer``; skipped without swaks."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from smtp_fakes import Starter

pytestmark = pytest.mark.peer

SWAKS = shutil.which("swaks")


async def swaks(*args: str) -> tuple[int, str]:
    if SWAKS is None:
        pytest.skip("swaks is not installed (apt-get install swaks)")
    proc = await asyncio.create_subprocess_exec(
        SWAKS,
        "--timeout",
        "10",
        "--helo",
        "client.example.net",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


def server_arg(server, kind: str) -> list[str]:  # type: ignore[no-untyped-def]
    host, port = server.addresses[kind]
    return ["--server", host, "--port", str(port)]


async def test_swaks_pipelined_inbound(smtp_server: Starter) -> None:
    server, delivery = await smtp_server()
    code, out = await swaks(
        *server_arg(server, "smtp"),
        "--pipeline",
        "--from",
        "a@example.net",
        "--to",
        "alice@example.com,bob@example.com",
    )
    assert code == 0, out
    assert len(delivery.delivered) == 1 and len(delivery.delivered[0][0].rcpts) == 2


async def test_swaks_relay_denied(smtp_server: Starter) -> None:
    server, delivery = await smtp_server()
    code, out = await swaks(
        *server_arg(server, "smtp"),
        "--from",
        "alice@example.com",
        "--to",
        "victim@remote.example",
    )
    assert code != 0 and "554 5.7.1 Relay access denied" in out
    assert not delivery.delivered


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
async def test_swaks_submission_starttls_auth(smtp_server: Starter, mech: str) -> None:
    server, delivery = await smtp_server()
    code, out = await swaks(
        *server_arg(server, "submission"),
        "--tls",
        "--auth",
        mech,
        "--auth-user",
        "alice",
        "--auth-password",
        "s3cret",
        "--from",
        "alice@example.com",
        "--to",
        "friend@remote.example",
    )
    assert code == 0, out
    assert "s3cret" not in "".join(delivery.delivered[0][0].trace.decode())
    assert delivery.delivered[0][0].auth is not None


async def test_swaks_submissions_implicit_tls(smtp_server: Starter) -> None:
    server, delivery = await smtp_server()
    code, out = await swaks(
        *server_arg(server, "submissions"),
        "--tls-on-connect",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "s3cret",
        "--from",
        "alice@example.com",
        "--to",
        "bob@example.com",
    )
    assert code == 0, out
    assert delivery.delivered[0][0].client.tls


async def test_swaks_auth_without_tls_refused(smtp_server: Starter) -> None:
    server, delivery = await smtp_server()
    code, out = await swaks(
        *server_arg(server, "submission"),
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "s3cret",
        "--from",
        "alice@example.com",
        "--to",
        "bob@example.com",
    )
    assert code != 0 and not delivery.delivered
