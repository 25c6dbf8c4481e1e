"""The per-tenant feature menu: a closed set of switches with defaults.

Stored in ``tenant.features`` (JSON). Unknown keys are refused on write so a typo never
silently does nothing; reading merges the stored values over :data:`DEFAULTS`, so adding a
feature here needs no migration. Labels are catalogue keys ``admin.feature.<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rongmail.errors import ValidationError

DEFAULTS: Mapping[str, bool] = {
    "archiving": False,
    "smart_relay": False,
    "ai_inbox": False,
    "ai_compose": False,
    "calendar": True,
    "external_forwarding": False,
    "large_attachments": False,
}


def effective(stored: Mapping[str, Any]) -> dict[str, bool]:
    return {k: bool(stored.get(k, v)) for k, v in DEFAULTS.items()}


def validate(changes: Mapping[str, Any]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for k, v in changes.items():
        if k not in DEFAULTS or not isinstance(v, bool):
            raise ValidationError(what=f"feature {k}")
        out[k] = v
    return out
