"""The CLI contract (issue 2 §2), driven as a user would: subprocesses, exit codes, messages."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "LANG": "C.UTF-8", "RONGMAIL_LOCALE": "en"}


def rm(*args: str, data: Path, stdin: str | None = None, ok: bool = True
       ) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "rongmail", *args, "--data-dir", str(data)],
                       capture_output=True, text=True, env=ENV, input=stdin, timeout=300)
    if ok:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli") / "data"
    r = rm("init", "--domain", "例子.test", "--admin-email", "admin@例子.test",
           "--admin-password", "Admin-pass-2026", data=d)
    assert "admin@xn--fsqu00a.test" in r.stdout and "Admin-pass-2026" in r.stdout
    return d


def test_init_is_idempotent_and_validates(data: Path, tmp_path: Path) -> None:
    r = rm("init", "--domain", "x.test", "--admin-email", "a@x.test", data=data)
    assert "already initialised" in r.stdout
    bad = tmp_path / "bad"
    r = rm("init", "--domain", "not a domain", "--admin-email", "a@x", data=bad, ok=False)
    assert r.returncode != 0 and "Invalid" in (r.stderr + r.stdout)
    assert not (bad / "rongmail.toml").exists()


def test_production_init_uses_standard_ports(tmp_path: Path) -> None:
    d = tmp_path / "prod"
    rm("init", "--domain", "corp.test", "--admin-email", "it@corp.test", "--production",
       "--admin-password", "Prod-pass-2026", data=d)
    cfg = (d / "rongmail.toml").read_text()
    for port in (":25\"", ":587\"", ":465\"", ":143\"", ":993\"", ":110\"", ":995\"", ":443\""):
        assert port in cfg, port


def test_domain_user_alias_group_lifecycle(data: Path) -> None:
    rm("domain", "add", "chengdu.test", data=data)
    r = rm("domain", "add", "chengdu.test", data=data, ok=False)
    assert r.returncode == 2 and "exists" in r.stderr
    rm("user", "add", "zhang@chengdu.test", "--password", "Zhang-pass-2026", "--name", "张三",
       data=data)
    r = rm("user", "add", "Zhang@chengdu.test", "--password", "Zhang-pass-2026", data=data,
           ok=False)
    assert r.returncode == 2 and "already exists" in r.stderr
    r = rm("user", "add", "x@unknown.test", "--password", "Zhang-pass-2026", data=data, ok=False)
    assert "Unknown domain" in r.stderr
    r = rm("user", "add", "weak@chengdu.test", "--password", "123", data=data, ok=False)
    assert "too short" in r.stderr
    rm("user", "passwd", "zhang@chengdu.test", data=data, stdin="New-pass-2026\n")
    rm("alias", "add", "sales@chengdu.test", "zhang@chengdu.test", data=data)
    rm("group", "add", "all@chengdu.test", "zhang@chengdu.test", "admin@例子.test", data=data)
    r = rm("group", "show", "all@chengdu.test", "--json", data=data)
    assert "admin@xn--fsqu00a.test" in r.stdout
    r = rm("user", "list", "--json", data=data)
    assert "张三" in r.stdout
    rm("user", "disable", "zhang@chengdu.test", data=data)
    assert '"disabled": true' in rm("user", "show", "zhang@chengdu.test", "--json",
                                    data=data).stdout
    r = rm("domain", "delete", "chengdu.test", data=data, ok=False)
    assert r.returncode == 2
    rm("alias", "delete", "sales@chengdu.test", data=data)
    rm("user", "delete", "zhang@chengdu.test", data=data)
    rm("group", "delete", "all@chengdu.test", data=data)
    rm("domain", "delete", "chengdu.test", data=data)


MSG = ("From: Wang <wang@example.com>\nTo: admin@example.test\nSubject: {s}\n"
       "Message-ID: <{i}@example.com>\nDate: Mon, 2 Nov 2026 09:00:00 +0800\n\n"
       "From the start: quarterly 报价单 number {i}\n")


def test_import_export_roundtrip_all_formats(data: Path, tmp_path: Path) -> None:
    rm("user", "add", "imp@例子.test", "--password", "Import-pass-2026", data=data)
    # an mbox with a body line starting "From " (mboxrd-quoted)
    mb = tmp_path / "in.mbox"
    box = mailbox.mbox(str(mb))
    for i in range(5):
        box.add(MSG.format(s=f"mbox {i}", i=f"m{i}").encode())
    box.close()
    # a Maildir with a flagged, seen message and a Maildir++ sub-folder
    md = mailbox.Maildir(str(tmp_path / "in.maildir"))
    m = mailbox.MaildirMessage(MSG.format(s="maildir 1", i="d1").encode())
    m.set_subdir("cur")
    m.set_flags("FS")
    md.add(m)
    sub = md.add_folder("Projects")
    sub.add(MSG.format(s="maildir sub", i="d2").encode())
    # an .eml tree with a non-UTF-8 folder and file name
    eml = tmp_path / "in.eml"
    weird = eml / os.fsdecode(b"\xb9\xa4\xd7\xf7")  # GBK bytes for 工作, not valid UTF-8
    weird.mkdir(parents=True)
    (weird / os.fsdecode(b"\xc3\xfb.eml")).write_text(MSG.format(s="eml gbk name", i="e1"))
    (eml / "plain.eml").write_text(MSG.format(s="eml plain", i="e2"))

    r = rm("import", str(mb), "--account", "imp@例子.test", "--no-progress", data=data)
    assert "5 messages, 0 failed" in r.stdout
    rm("import", str(tmp_path / "in.maildir"), "--account", "imp@例子.test", "--keep-folders",
       "--mailbox", "Archive", "--no-progress", data=data)
    r = rm("import", str(eml), "--account", "imp@例子.test", "--keep-folders", "--mailbox",
           "Eml", "--no-progress", data=data)
    assert "2 messages, 0 failed" in r.stdout
    r = rm("import", str(tmp_path / "missing"), "--account", "imp@例子.test", data=data,
           ok=False)
    assert "Nothing to import" in r.stderr

    show = rm("user", "show", "imp@例子.test", "--json", data=data).stdout
    assert '"INBOX": 5' in show and '"Archive": 1' in show and '"Projects": 1' in show

    out = tmp_path / "out.mbox"
    rm("export", str(out), "--account", "imp@例子.test", "--mailbox", "INBOX", data=data)
    again = mailbox.mbox(str(out))
    subjects = sorted(str(x["subject"]) for x in again)
    assert subjects == [f"mbox {i}" for i in range(5)]
    assert all(b"From the start" in x.get_payload(decode=True) for x in again)
    rm("export", str(tmp_path / "out.maildir"), "--account", "imp@例子.test", "--format",
       "maildir", data=data)
    flagged = [p.name for p in (tmp_path / "out.maildir" / ".Archive" / "cur").iterdir()]
    assert any(n.endswith(":2,FS") for n in flagged), flagged
    rm("export", str(tmp_path / "out.eml"), "--account", "imp@例子.test", "--format", "eml",
       data=data)
    assert len(list((tmp_path / "out.eml").rglob("*.eml"))) == 9


def test_doctor_reports_broken_config(data: Path, tmp_path: Path) -> None:
    r = rm("doctor", data=data)
    assert "Database readable" in r.stdout
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "rongmail.toml").write_text('[listeners]\nsmtp = "oops"\n')
    r = rm("doctor", data=broken, ok=False)
    assert r.returncode == 1 and "listeners.smtp" in r.stdout
    r = rm("doctor", data=tmp_path / "nothing", ok=False)
    assert "does not exist" in r.stdout
