"""A real ``rongmail serve`` with the identity layer on: a small country database (loopback
addresses stand for countries), quiet hours off, a local webhook receiver for security alerts."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from identity_helpers import Hooks, write_country_mmdb

from e2e.conftest import RunningServer, free_port, run_server


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    box = Hooks(free_port())

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            box.received.append(json.loads(body))
            box.event.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", box.port), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield box
    srv.shutdown()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, hooks: Hooks) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("identity")
    geo = write_country_mmdb(tmp / "country.mmdb")
    env = {"RONGMAIL_SECURITY__GEOIP_PATH": str(geo),
           "RONGMAIL_SECURITY__RISK__QUIET_HOURS": "[0, 0]",
           "RONGMAIL_SECURITY__ALERT_WEBHOOK": f"http://127.0.0.1:{hooks.port}/hook"}
    with run_server(tmp, wait_for=("http", "imaps", "submissions"), extra_env=env) as s:
        yield s
