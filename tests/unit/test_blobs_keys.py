"""Encrypted, content-addressed blobs and envelope keys."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from rongmail.errors import ConfigError, InternalError, NotFound
from rongmail.store.fs import keys as k
from rongmail.store.fs.blobs import FsBlobStore


def ring(master: bytes | None = None) -> k.KeyRing:
    r = k.KeyRing(master or secrets.token_bytes(32))
    v, w = r.new_tenant_key(1)
    r.add(1, v, w)
    return r


def test_roundtrip_dedup_and_ciphertext_on_disk(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path, ring())
    data = "发票 invoice ".encode() * 100
    a = store.put_sync(1, data)
    assert store.put_sync(1, data) == a  # content-addressed
    assert store.get_sync(1, a) == data
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and b"invoice" not in files[0].read_bytes()


def test_tamper_and_rename_detected(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path, ring())
    a = store.put_sync(1, b"hello world")
    b = store.put_sync(1, b"other data")
    pa = store._path(1, a)
    raw = bytearray(pa.read_bytes())
    raw[-1] ^= 1
    pa.write_bytes(bytes(raw))
    with pytest.raises(InternalError):
        store.get_sync(1, a)
    store._path(1, b).replace(pa)  # a valid file under the wrong name
    with pytest.raises(InternalError):
        store.get_sync(1, a)
    with pytest.raises(NotFound):
        store.get_sync(1, "../../etc/passwd")


def test_tenant_key_rotation_keeps_old_blobs_readable(tmp_path: Path) -> None:
    r = ring()
    store = FsBlobStore(tmp_path, r)
    old = store.put_sync(1, b"before rotation")
    v, w = r.new_tenant_key(1)
    r.add(1, v, w)
    new = store.put_sync(1, b"after rotation")
    assert store.get_sync(1, old) == b"before rotation"
    assert store.get_sync(1, new) == b"after rotation"


def test_master_key_mismatch_is_detected() -> None:
    m1, m2 = secrets.token_bytes(32), secrets.token_bytes(32)
    wrapped = k.wrap(m1, 1, 1, secrets.token_bytes(32))
    with pytest.raises(ConfigError):
        k.KeyRing(m2).load([(1, 1, wrapped, k.master_id(m1))])


def test_master_key_file_mode(tmp_path: Path) -> None:
    key = k.load_or_create_master(tmp_path / "keys", create=True)
    assert len(key) == 32
    assert (tmp_path / "keys" / "master.key").stat().st_mode & 0o777 == 0o600
    assert k.load_or_create_master(tmp_path / "keys", create=False) == key
    with pytest.raises(ConfigError):
        k.load_or_create_master(tmp_path / "other", create=False)
