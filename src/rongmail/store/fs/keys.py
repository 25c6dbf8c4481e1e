"""Envelope encryption keys: a master key outside the database wraps per-tenant data keys.

* The master key (32 random bytes) lives in ``<data-dir>/keys/master.key`` (mode 0600) or in
  the environment variable ``RONGMAIL_MASTER_KEY`` (base64). It is never stored in the database
  and never logged. ``master_id`` (first 16 hex digits of its SHA-256) records which master key
  wrapped a tenant key, so a wrong key is detected instead of producing garbage.
* Tenant data keys (AES-256) are wrapped with AES-256-GCM under the master key, AAD
  ``rongmail-tenant-key:<tenant>:<version>``; several versions may exist (rotation): new blobs
  use the newest, old blobs name their version in their header.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rongmail.errors import ConfigError

ENV_MASTER = "RONGMAIL_MASTER_KEY"


def master_id(master: bytes) -> str:
    return hashlib.sha256(master).hexdigest()[:16]


def load_or_create_master(keys_dir: Path, *, create: bool) -> bytes:
    env = os.environ.get(ENV_MASTER)
    if env:
        try:
            key = base64.b64decode(env, validate=True)
        except ValueError as e:
            raise ConfigError(file=ENV_MASTER, key=ENV_MASTER, problem="not base64") from e
        if len(key) != 32:
            raise ConfigError(file=ENV_MASTER, key=ENV_MASTER, problem="must be 32 bytes")
        return key
    path = keys_dir / "master.key"
    if path.exists():
        key = base64.b64decode(path.read_text().strip())
        if len(key) != 32:
            raise ConfigError(file=str(path), key="master.key", problem="must be 32 bytes")
        return key
    if not create:
        raise ConfigError(file=str(path), key="master.key", problem="missing")
    key = secrets.token_bytes(32)
    write_master(keys_dir, key)
    return key


def write_master(keys_dir: Path, key: bytes, *, name: str = "master.key") -> None:
    """Atomically write a master key file (temp, fsync, rename), mode 0600."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = keys_dir / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, keys_dir / name)
    dfd = os.open(keys_dir, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def promote_next(keys_dir: Path) -> None:
    """Make ``master.key.next`` the master key (last step of a rotation)."""
    os.replace(keys_dir / "master.key.next", keys_dir / "master.key")


def staged_master(keys_dir: Path) -> bytes | None:
    """The staged key of an interrupted rotation, if any."""
    p = keys_dir / "master.key.next"
    return base64.b64decode(p.read_text().strip()) if p.exists() else None


def _aad(tenant_id: int, version: int) -> bytes:
    return f"rongmail-tenant-key:{tenant_id}:{version}".encode()


def wrap(master: bytes, tenant_id: int, version: int, data_key: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(master).encrypt(nonce, data_key, _aad(tenant_id, version))


def unwrap(master: bytes, tenant_id: int, version: int, wrapped: bytes) -> bytes:
    return AESGCM(master).decrypt(wrapped[:12], wrapped[12:], _aad(tenant_id, version))


class KeyRing:
    """Unwrapped tenant data keys in memory: ``{tenant_id: {version: key}}``."""

    def __init__(self, master: bytes) -> None:
        self.master = master
        self.master_id = master_id(master)
        self._keys: dict[int, dict[int, bytes]] = {}

    def load(self, rows: list[tuple[int, int, bytes, str]]) -> None:
        """Load wrapped keys (tenant_id, version, wrapped, master_id) from the store."""
        for tenant_id, version, wrapped, mid in rows:
            if mid != self.master_id:
                raise ConfigError(
                    file="keys/master.key", key="master.key",
                    problem=f"tenant {tenant_id} key was wrapped by another master key")
            self._keys.setdefault(tenant_id, {})[version] = unwrap(
                self.master, tenant_id, version, wrapped)

    def new_tenant_key(self, tenant_id: int) -> tuple[int, bytes]:
        """Create the next key version for a tenant; returns (version, wrapped). The caller
        stores the wrapped key; :meth:`add` makes it usable after the store committed it."""
        version = max(self._keys.get(tenant_id, {0: b""}), default=0) + 1
        key = secrets.token_bytes(32)
        self._pending = (tenant_id, version, key)
        return version, wrap(self.master, tenant_id, version, key)

    def add(self, tenant_id: int, version: int, wrapped: bytes) -> None:
        self._keys.setdefault(tenant_id, {})[version] = unwrap(
            self.master, tenant_id, version, wrapped)

    def current(self, tenant_id: int) -> tuple[int, bytes]:
        versions = self._keys.get(tenant_id)
        if not versions:
            raise KeyError(f"no data key for tenant {tenant_id}")
        v = max(versions)
        return v, versions[v]

    def get(self, tenant_id: int, version: int) -> bytes:
        return self._keys[tenant_id][version]

    def has(self, tenant_id: int) -> bool:
        return bool(self._keys.get(tenant_id))
