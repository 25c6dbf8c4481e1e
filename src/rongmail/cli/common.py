"""Shared CLI plumbing: --data-dir resolution, running async commands, rendering errors once."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rongmail.errors import MailError
from rongmail.i18n import normalize_locale, t

ENV_DATA_DIR = "RONGMAIL_DATA_DIR"


def default_data_dir() -> str:
    return os.environ.get(ENV_DATA_DIR, "./data")


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=default_data_dir(),
                   help=f"data directory (default: ${ENV_DATA_DIR}, then ./data)")


def locale() -> str:
    return normalize_locale(os.environ.get("RONGMAIL_LOCALE") or os.environ.get("LANG", "zh_CN"))


def say(key: str, **params: Any) -> None:
    print(t(key, locale(), **params), flush=True)


def fail(e: MailError) -> int:
    print(t("cli.error", locale(), message=e.public(locale())), file=sys.stderr, flush=True)
    return 2


def run(coro_fn: Callable[[], Awaitable[int | None]]) -> int:
    """Run an async command; render MailError once; Ctrl+C exits 130."""
    try:
        return asyncio.run(coro_fn()) or 0  # type: ignore[arg-type]
    except MailError as e:
        return fail(e)
    except KeyboardInterrupt:
        return 130


def data_path(args: argparse.Namespace) -> Path:
    return Path(args.data_dir).resolve()
