"""The webmail's own unit tests (``web/tests/*.test.ts``, vitest under jsdom) run as part of
``make test``, so a front-end regression fails CI like any other (the mail store's list window,
its push resynchronisation and the write/read ordering, the JMAP client, i18n, compose, HTML
sanitising)."""

from __future__ import annotations

import shutil
import subprocess

from webtools import ROOT

from peers import skip_or_fail

WEB = ROOT / "web"


def test_vitest_suite_passes() -> None:
    npx = shutil.which("npx")
    if npx is None or not (WEB / "node_modules" / ".bin" / "vitest").exists():
        skip_or_fail("npm or web/node_modules missing: run `make web`")
    assert npx is not None
    run = subprocess.run([npx, "vitest", "run", "--reporter=dot"], cwd=WEB, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert " passed" in run.stdout, run.stdout[-2000:]
