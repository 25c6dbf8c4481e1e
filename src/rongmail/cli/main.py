"""Entry point of the ``rongmail`` command."""

from __future__ import annotations

import argparse
import importlib
import sys

from rongmail.cli import directory, setup, transfer
from rongmail.cli.common import locale
from rongmail.i18n import t

#: Optional command groups contributed by other packages: (module, attribute).
_OPTIONAL = [("rongmail.cli.queue", "register"), ("rongmail.cli.audit", "register")]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rongmail", description=t("cli.description", locale()))
    sub = p.add_subparsers(dest="command", required=True)
    setup.register(sub)
    directory.register(sub)
    transfer.register(sub)
    for mod, attr in _OPTIONAL:
        try:
            getattr(importlib.import_module(mod), attr)(sub)
        except ModuleNotFoundError:
            continue
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
