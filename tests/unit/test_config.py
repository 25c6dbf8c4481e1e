"""Typed configuration: errors name the file, the key and what is allowed; env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from rongmail.config.load import env_overrides, load_file
from rongmail.config.reference import render
from rongmail.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rongmail.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_and_env_override(tmp_path: Path) -> None:
    p = write(tmp_path, '[listeners]\nsmtp = "127.0.0.1:2525"\nimap = ""\n')
    s = load_file(p, environ={"RONGMAIL_LISTENERS__SMTP": "0.0.0.0:25",
                              "RONGMAIL_STORAGE__SQLITE_READERS": "8"})
    assert s.listeners.smtp == "0.0.0.0:25"
    assert s.storage.sqlite_readers == 8
    assert "imap" not in s.listeners.enabled()
    assert s.listeners.enabled()["smtp"] == ("0.0.0.0", 25)
    assert s.server.switch_interval == 0.001  # not CPython's 0.005 (core.turns)


@pytest.mark.parametrize("text,key,needle", [
    ('[listeners]\nsmtp = "nonsense"\n', "listeners.smtp", "host:port"),
    ('[listeners]\nsmtp = "1.2.3.4:99999"\n', "listeners.smtp", "host:port"),
    ('[storage]\nbackend = "mysql"\n', "storage.backend", "sqlite"),
    ('[storage]\nsqlite_readers = 0\n', "storage.sqlite_readers", "greater"),
    ('[server]\nswitch_interval = 0\n', "server.switch_interval", "greater"),
    ('[server]\nswitch_interval = 1\n', "server.switch_interval", "less"),
    ('[listenres]\nsmtp = ""\n', "listenres", "unknown key"),
    ('[server\nhostname = 1', "-", "TOML syntax"),
])
def test_bad_config_names_file_key_and_rule(tmp_path: Path, text: str, key: str,
                                            needle: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_file(p, environ={})
    msg = ei.value.public("en")
    assert str(p) in msg and key in msg and needle in msg, msg
    assert str(p) in ei.value.public("zh-CN")


def test_missing_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        load_file(tmp_path / "nope.toml", environ={})
    assert "rongmail init" in ei.value.public("en")
    p = tmp_path / "bad.toml"
    p.write_bytes(b"[server]\nhostname = \"\xff\xfe\"\n")
    with pytest.raises(ConfigError):
        load_file(p, environ={})


def test_env_parsing() -> None:
    o = env_overrides({"RONGMAIL_LIMITS__MAX_MESSAGE_BYTES": "1024", "OTHER": "x",
                       "RONGMAIL_NOSECTION": "y"})
    assert o == {"limits": {"max_message_bytes": 1024}}


def test_reference_documents_every_field() -> None:
    doc = render()
    for needle in ("RONGMAIL_LISTENERS__SMTP", "RONGMAIL_STORAGE__BACKEND", "[tls]"):
        assert needle in doc
