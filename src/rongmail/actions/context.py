"""What every action needs, built once by ``app.py`` (no service locator: explicit fields)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rongmail.bus import Bus
from rongmail.config.settings import Settings
from rongmail.store.fs.keys import KeyRing
from rongmail.store.ports import BlobStore, MetaStore


@dataclass
class ActionContext:
    meta: MetaStore
    blobs: BlobStore
    bus: Bus
    keys: KeyRing
    settings: Settings
    #: account id -> tenant id (immutable relation, safe to cache)
    tenant_of: dict[int, int] = field(default_factory=dict)
