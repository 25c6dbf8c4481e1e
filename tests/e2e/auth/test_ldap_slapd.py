"""LDAP bind and user sync against a real OpenLDAP ``slapd`` (Debian package ``slapd``),
started by the test on a loopback port with its own configuration and database.

``rongmail security ldap-sync`` mirrors the directory into accounts; IMAP, SMTP-free web login
and JMAP Basic then check passwords by binding as the user's entry; a password changed in the
directory takes effect at once; a user removed from the directory is disabled by the next sync.
"""

from __future__ import annotations

import base64
import http.client
import imaplib
import json
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.conftest import RunningServer, free_port, run_server

pytestmark = pytest.mark.peer
SLAPD = "/usr/sbin/slapd"
SUFFIX = "dc=corp,dc=test"
ROOT_DN, ROOT_PW = f"cn=admin,{SUFFIX}", "Root-secret-2026"


def _install_slapd() -> None:
    """Debian's slapd, installed on first use without its default configuration (the test
    runs its own instance); skip locally, fail in CI when impossible."""
    from peers import skip_or_fail
    from peers.apt import PeerUnavailable, ensure, installed

    if Path(SLAPD).exists():
        return
    if not installed("slapd") and shutil.which("debconf-set-selections"):
        subprocess.run(["debconf-set-selections"], input="slapd slapd/no_configuration boolean true\n",
                       text=True, check=False)
    try:
        ensure(["slapd", "ldap-utils"])
    except PeerUnavailable as exc:
        skip_or_fail(str(exc))


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[str]:
    _install_slapd()
    port = free_port()
    db = tmp_path / "ldapdb"
    db.mkdir()
    conf = tmp_path / "slapd.conf"
    conf.write_text(f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {tmp_path}/slapd.pid
database mdb
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {db}
maxsize 10485760
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
""")
    proc = subprocess.Popen([SLAPD, "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/",
                             "-d", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"ldap://127.0.0.1:{port}"
    import ldap3

    deadline = time.monotonic() + 20
    while True:
        try:
            c = ldap3.Connection(url, ROOT_DN, ROOT_PW, auto_bind=True)
            break
        except ldap3.core.exceptions.LDAPException:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("slapd did not start")
            time.sleep(0.2)
    c.add(SUFFIX, ["dcObject", "organization"], {"o": "Corp", "dc": "corp"})
    c.add(f"ou=people,{SUFFIX}", ["organizationalUnit"], {"ou": "people"})
    for uid, name, pw in (("liu", "Liu Yang", "Ldap-pass-liu-1"),
                          ("ma", "Ma Li", "Ldap-pass-ma-1")):
        c.add(f"uid={uid},ou=people,{SUFFIX}", ["inetOrgPerson"],
              {"cn": name, "sn": name.split()[0], "uid": uid, "mail": f"{uid}@corp.test",
               "userPassword": pw})
    c.unbind()
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _imap(srv: RunningServer, user: str, password: str) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=ctx)
    try:
        m.login(user, password)
    except imaplib.IMAP4.error:
        return False
    m.logout()
    return True


def _web(srv: RunningServer, user: str, password: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", srv.ports["http"], timeout=30)
    conn.request("POST", "/api/login", body=json.dumps({"username": user, "password": password}),
                 headers={"Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    return status


def _basic(srv: RunningServer, user: str, password: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", srv.ports["http"], timeout=30)
    cred = base64.b64encode(f"{user}:{password}".encode()).decode()
    conn.request("GET", "/api/me", headers={"Authorization": f"Basic {cred}"})
    status = conn.getresponse().status
    conn.close()
    return status


def test_ldap_bind_and_sync(slapd: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ldap3

    for k, v in {"ENABLED": "true", "URL": slapd, "START_TLS": "false",
                 "BIND_DN": ROOT_DN, "BIND_PASSWORD": ROOT_PW,
                 "BASE_DN": f"ou=people,{SUFFIX}"}.items():
        monkeypatch.setenv(f"RONGMAIL_SECURITY__LDAP__{k}", v)
    with run_server(tmp_path, wait_for=("http", "imaps")) as srv:
        out = srv.cli("security", "ldap-sync").stdout
        assert json.loads(out.strip().splitlines()[-1])["created"] == 2
        assert _imap(srv, "liu@corp.test", "Ldap-pass-liu-1")
        assert not _imap(srv, "liu@corp.test", "wrong-password")
        assert not _imap(srv, "liu@corp.test", "")
        assert _web(srv, "ma@corp.test", "Ldap-pass-ma-1") == 200
        assert _basic(srv, "ma@corp.test", "Ldap-pass-ma-1") == 200
        # the local admin (not in the directory) still uses its local password
        assert _web(srv, srv.admin, srv.password) == 200

        c = ldap3.Connection(slapd, ROOT_DN, ROOT_PW, auto_bind=True)
        c.modify(f"uid=liu,ou=people,{SUFFIX}",
                 {"userPassword": [(ldap3.MODIFY_REPLACE, ["Ldap-pass-liu-2"])]})
        c.delete(f"uid=ma,ou=people,{SUFFIX}")
        c.unbind()
        assert not _imap(srv, "liu@corp.test", "Ldap-pass-liu-1")
        assert _imap(srv, "liu@corp.test", "Ldap-pass-liu-2")
        out = srv.cli("security", "ldap-sync").stdout
        assert json.loads(out.strip().splitlines()[-1])["disabled"] == 1
        assert _web(srv, "ma@corp.test", "Ldap-pass-ma-1") == 401
        audit = srv.cli("audit", "list", "--category", "admin").stdout
        assert "ldap.synced" in audit
        assert "Ldap-pass" not in srv.cli("audit", "export").stdout
        assert srv.cli("audit", "verify").returncode == 0
