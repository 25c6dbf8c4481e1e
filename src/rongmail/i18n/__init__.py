"""The one message catalogue (zh-CN first, en second).

User-facing text lives in ``zh-CN.json`` and ``en.json`` beside this file, keyed by dotted names
(``auth.failed``). Code never holds Chinese literals; it calls :func:`t`. A test checks both
catalogues have the same keys and the same ``{placeholders}``.

Lookup falls back to English, then to the key itself, so a missing key is visible but never fatal.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"


@cache
def catalogue(locale: str) -> dict[str, str]:
    """Load one locale's catalogue (cached)."""
    name = f"{locale}.json"
    data = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    loaded: dict[str, str] = json.loads(data)
    return loaded


def normalize_locale(locale: str | None) -> str:
    """Map ``zh``, ``zh_CN``, ``zh-Hans`` etc. to ``zh-CN``; anything else English."""
    if not locale:
        return DEFAULT_LOCALE
    low = locale.replace("_", "-").lower()
    if low.startswith("zh"):
        return "zh-CN"
    return "en"


def t(key: str, locale: str | None = DEFAULT_LOCALE, /, **params: Any) -> str:
    """Translate ``key`` into ``locale``, formatting ``{name}`` placeholders from ``params``."""
    loc = normalize_locale(locale)
    text = catalogue(loc).get(key) or catalogue("en").get(key) or key
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text
