"""Load settings once: TOML file, then environment overrides, then validation.

Environment overrides: ``RONGMAIL_<SECTION>__<KEY>=value`` (e.g.
``RONGMAIL_LISTENERS__SMTP=0.0.0.0:25``); values are parsed as TOML scalars when they parse,
else taken as strings. Errors become :class:`~rongmail.errors.ConfigError` naming the file, the
key and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticError

from rongmail.config.settings import Settings
from rongmail.errors import ConfigError

CONFIG_NAME = "rongmail.toml"
ENV_PREFIX = "RONGMAIL_"


def _scalar(v: str) -> Any:
    try:
        return tomllib.loads(f"v = {v}")["v"]
    except tomllib.TOMLDecodeError:
        return v


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for k, v in env.items():
        if not k.startswith(ENV_PREFIX) or "__" not in k:
            continue
        path = k[len(ENV_PREFIX):].lower().split("__")
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
        node[path[-1]] = _scalar(v) if path[0] != "listeners" else v
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def validate(data: dict[str, Any], source: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except PydanticError as e:
        err = e.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        problem = err["msg"]
        if err["type"] == "extra_forbidden":
            problem = "unknown key"
        raise ConfigError(file=source, key=key, problem=problem) from e


def load_file(path: Path, environ: dict[str, str] | None = None) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError("config.missing", file=str(path)) from e
    except UnicodeDecodeError as e:
        raise ConfigError(file=str(path), key="-", problem="not UTF-8") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file=str(path), key="-", problem=f"TOML syntax: {e}") from e
    return validate(_merge(data, env_overrides(environ)), str(path))


def load(data_dir: Path, environ: dict[str, str] | None = None) -> Settings:
    return load_file(Path(data_dir) / CONFIG_NAME, environ)
