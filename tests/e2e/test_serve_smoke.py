"""`rongmail serve` as a user runs it: listeners come up on the configured ports, the health
endpoint answers, autoconfig reflects the real ports, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from e2e.conftest import run_server


def test_serve_health_autoconfig_and_clean_stop(tmp_path: Path) -> None:
    with run_server(tmp_path) as srv:
        with urllib.request.urlopen(srv.url("/healthz"), timeout=10) as r:
            assert json.loads(r.read()) == {"status": "ok"}
        url = srv.url("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=a@corp.test")
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read().decode()
        assert f"<port>{srv.ports['imaps']}</port>" in body
        proc = srv.proc
    assert proc.returncode == 0, (tmp_path / "serve.log").read_text()[-2000:]
