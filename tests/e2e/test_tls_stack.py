"""HTTPS at the edge, both modes, on this machine's engine.

The site's names (`app.lstls.test`, `www.lstls.test`) resolve to the project's own addresses:
for this test's client, 127.0.0.1 (every request connects there and sends the name as SNI and
Host); inside the stack's network, Docker's DNS answers them with the edge container (its
aliases). Only this client trusts the test's roots.

- `files`: a certificate from a CA the test makes (valid 10 days: the receipt warns); a key of
  another certificate is refused before any change.
- `acme`: pebble (Debian's package, Let's Encrypt's ACME test server) in a container on the
  stack's network, its directory served with a certificate of the test's CA. Pebble's TLS-ALPN
  port is closed, so the certificate can only come through HTTP-01 on the edge's HTTP port,
  the one path that HTTP does not redirect.

Stack `e2e-tls`, prefix `lstls`, network `lstls-net` (external: the test creates it with
pebble), HTTP 18090, HTTPS 18443, pebble's management API on 127.0.0.1:18515.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from .certs import OwnCA
from .conformance import mask, normalize_state
from .support.engine import docker_cleanup
from .support.http import wait_for
from .support.load import Load
from .support.pulumi import Pulumi, new_project
from .support.shell import sh

#: Pebble (no restart policy) keeps its CA in memory: an engine restart would take the ACME
#: server and its root with it, so no engine restart happens while this suite runs
pytestmark = pytest.mark.engine_steady

STACK = "e2e-tls"
NAME = "lstls"
NETWORK = f"{NAME}-net"
PEBBLE = f"{NAME}-pebble"
HTTP_PORT, HTTPS_PORT, PEBBLE_MGMT = 18090, 18443, 18515
SITE, WWW = "app.lstls.test", "www.lstls.test"
PEBBLE_IMAGE = "127.0.0.1:5000/laravel-stack/pebble:2.4"
EDGE_IMAGE = "127.0.0.1:5000/laravel-stack/caddy:2.6"


class _Conn(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 for a name: SNI, Host and verification all use the name."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class Client:
    def __init__(self, cafile: Path):
        self.ctx = ssl.create_default_context(cafile=str(cafile))

    def get(self, path: str, host: str = SITE, timeout: float = 5) -> tuple[int, Any, dict]:
        conn = _Conn(host, HTTPS_PORT, timeout=timeout, context=self.ctx)
        try:
            conn.request("GET", path, headers={"Accept": "application/json"})
            resp = conn.getresponse()
            body = resp.read().decode()
            headers = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        try:
            return resp.status, json.loads(body), headers
        except json.JSONDecodeError:
            return resp.status, body, headers

    def serial(self, host: str = SITE) -> int:
        with (
            socket.create_connection(("127.0.0.1", HTTPS_PORT), 5) as sock,
            self.ctx.wrap_socket(sock, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert der
        return x509.load_der_x509_certificate(der).serial_number


def curl(*args: str, cafile: Path) -> subprocess.CompletedProcess:
    return sh("curl", "-sS", "--max-time", "10", "--cacert", str(cafile),
              "--resolve", f"{SITE}:{HTTPS_PORT}:127.0.0.1", *args, check=False)  # fmt: skip


def set_value(p: Pulumi, path: str, value: str, secret: bool = False) -> None:
    """Through stdin, as the README says (a PEM's leading dashes would read as a flag)."""
    argv = ["pulumi", "config", "set", *(["--secret"] if secret else []), "--path", path,
            "--stack", p.stack, "--non-interactive"]  # fmt: skip
    subprocess.run(argv, input=value, cwd=p.project, env=p.env, check=True, timeout=60,
                   capture_output=True, text=True)  # fmt: skip


@pytest.fixture(scope="module")
def ca() -> OwnCA:
    return OwnCA()


@pytest.fixture(scope="module")
def pebble(ca: OwnCA, tmp_path_factory) -> Iterator[str]:
    """Pebble on the stack's network; yields its root (the issued certificates' trust anchor)."""
    sh("docker", "rm", "-f", PEBBLE, check=False)
    sh("docker", "network", "rm", NETWORK, check=False)
    sh("docker", "network", "create", NETWORK)
    own = ca.issue([PEBBLE], days=5, ips=("127.0.0.1",))
    work = tmp_path_factory.mktemp("pebble")
    config = {
        "pebble": {
            "listenAddress": "0.0.0.0:14000",
            "managementListenAddress": "0.0.0.0:15000",
            "certificate": "/etc/pebble/cert.pem",
            "privateKey": "/etc/pebble/key.pem",
            "httpPort": HTTP_PORT,  # HTTP-01 on the edge's HTTP port
            "tlsPort": 1,  # closed: TLS-ALPN-01 cannot pass
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    for name, text in (("config.json", json.dumps(config)), ("cert.pem", own.cert),
                       ("key.pem", own.key)):  # fmt: skip
        (work / name).write_text(text)
    # (not labelled as the stack's: docker_cleanup of the stack leaves it alone)
    sh("docker", "create", "--name", PEBBLE, "--network", NETWORK,
       "--publish", f"127.0.0.1:{PEBBLE_MGMT}:15000", PEBBLE_IMAGE)  # fmt: skip
    for name in ("config.json", "cert.pem", "key.pem"):
        sh("docker", "cp", str(work / name), f"{PEBBLE}:/etc/pebble/{name}")
    sh("docker", "start", PEBBLE)
    ctx = ssl.create_default_context(cadata=ca.pem)

    def root() -> str:
        conn = http.client.HTTPSConnection("127.0.0.1", PEBBLE_MGMT, timeout=5, context=ctx)
        conn.request("GET", "/roots/0")
        return conn.getresponse().read().decode()

    yield wait_for(root, timeout=30, what="pebble's management API")
    sh("docker", "rm", "-f", PEBBLE, check=False)


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory, ca, pebble) -> Iterator[Pulumi]:
    docker_cleanup(NAME)
    p = new_project(tmp_path_factory, STACK)
    p.set("name", NAME)
    p.set("network.external", "true")
    p.set("network.name", NETWORK)
    p.set("web.port", str(HTTP_PORT))
    p.set("web.tls.https_port", str(HTTPS_PORT))
    p.set("web.tls.edge_image", EDGE_IMAGE)
    p.set("web.tls.domains[0]", SITE)
    p.set("web.tls.domains[1]", WWW)
    yield p
    p.run("destroy", "--yes", check=False)
    docker_cleanup(NAME)
    sh("docker", "rm", "-f", PEBBLE, check=False)
    sh("docker", "network", "rm", NETWORK, check=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory, ca: OwnCA) -> dict[str, Any]:
    leaf = ca.issue([SITE, WWW], days=10)
    cafile = tmp_path_factory.mktemp("trust") / "ca.pem"
    cafile.write_text(ca.pem)
    return {"leaf": leaf, "cafile": cafile, "ca": ca.pem}


def test_files_mode_serves_https_with_the_given_certificate(tls_stack, files, vectors):
    p, leaf = tls_stack, files["leaf"]
    p.set("web.tls.mode", "files")
    set_value(p, "web.tls.ca_roots", files["ca"])  # the verify step trusts the test's CA
    set_value(p, "web.tls.certificate", leaf.cert)
    set_value(p, "web.tls.key", leaf.key, secret=True)
    res = p.up()
    out = p.outputs()
    # the key stays a secret end to end: not in the up output, the state or the outputs
    key_line = leaf.key.splitlines()[1]
    shown = res.stdout + res.stderr + json.dumps(p.state()) + json.dumps(out)
    assert key_line not in shown
    assert out["web_url"] == f"https://{SITE}:{HTTPS_PORT}/"
    assert out["health_url"] == f"https://{SITE}:{HTTPS_PORT}/up"
    client = Client(files["cafile"])
    status, body, headers = client.get("/up")
    assert status == 200 and body["build"] == out["image"], body
    assert headers["strict-transport-security"] == "max-age=31536000"
    assert client.serial() == leaf.serial
    # HTTP/2, TLS 1.2+ only, HTTP redirected to HTTPS (with the port it is published on)
    h2 = curl("-o", "/dev/null", "-w", "%{http_version}", f"https://{SITE}:{HTTPS_PORT}/up",
              cafile=files["cafile"])  # fmt: skip
    assert h2.stdout == "2", h2
    old = curl("--tls-max", "1.1", f"https://{SITE}:{HTTPS_PORT}/up", cafile=files["cafile"])
    assert old.returncode == 35, old  # the handshake is refused
    redirect = sh("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                  "-H", f"Host: {SITE}", f"http://127.0.0.1:{HTTP_PORT}/up?x=1")  # fmt: skip
    assert redirect.stdout == f"308 https://{SITE}:{HTTPS_PORT}/up?x=1", redirect
    # Laravel sees HTTPS (nginx tells FPM), so it builds https:// URLs
    assert client.get("/")[0] == 200
    # Only the edge publishes ports; nginx is internal
    assert sh("docker", "port", f"{NAME}-web").stdout.strip() == ""
    receipt = out["release"]
    assert f"healthy: https://{SITE}:{HTTPS_PORT}/up HTTP 200" in receipt, receipt
    named = re.search(r"certificate: CN=(\S+), issuer CN=([^,]+), serial ([0-9A-F]+), not after ",
                      receipt)  # fmt: skip
    assert named, receipt
    # (PHP prints the serial in whole bytes: a leading 0 when its first digit would be alone)
    assert named.groups()[:2] == (SITE, "laravel-stack e2e CA")
    assert int(named.group(3), 16) == leaf.serial, receipt
    assert "warning: the certificate expires in 9 day(s): renew it" in receipt, receipt
    vectors.check("tls files: state after up", normalize_state(p.state(), str(p.project)))


def test_a_key_that_does_not_match_is_refused_before_any_change(tls_stack, files):
    p = tls_stack
    # (secrets are re-encrypted whenever state is written: compare them masked)
    before = mask(p.state()["deployment"]["resources"], str(p.project))
    edge_id = sh("docker", "inspect", "--format", "{{.Id}}", f"{NAME}-edge").stdout
    wrong = OwnCA.other_key()
    set_value(p, "web.tls.key", wrong, secret=True)
    res = p.run("preview", check=False)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "web.tls.key: does not match web.tls.certificate" in out, out[-3000:]
    assert wrong.splitlines()[1] not in out  # never echoes key material
    res = p.up(check=False)
    assert res.returncode != 0
    assert mask(p.state()["deployment"]["resources"], str(p.project)) == before
    assert sh("docker", "inspect", "--format", "{{.Id}}", f"{NAME}-edge").stdout == edge_id
    assert Client(files["cafile"]).get("/up")[0] == 200
    set_value(p, "web.tls.key", files["leaf"].key, secret=True)


@pytest.fixture(scope="module")
def acme(tls_stack, ca, pebble, tmp_path_factory) -> Client:
    p = tls_stack
    p.rm("web.tls.certificate")
    p.rm("web.tls.key")
    p.set("web.tls.mode", "acme")
    p.set("web.tls.email", "ops@lstls.test")
    p.set("web.tls.acme_directory", f"https://{PEBBLE}:14000/dir")
    # Caddy trusts the test CA for pebble's directory; the verify step trusts pebble's root.
    set_value(p, "web.tls.ca_roots", ca.pem + pebble)
    res = p.up(check=False)
    if res.returncode != 0:
        edge = sh("docker", "logs", "--tail", "40", f"{NAME}-edge", check=False).stderr
        raise AssertionError(f"up in acme mode failed:\n{res.stdout[-3000:]}\n--- edge\n{edge}")
    cafile = tmp_path_factory.mktemp("pebble-trust") / "pebble-root.pem"
    cafile.write_text(pebble)
    return Client(cafile)


def test_acme_mode_issues_a_certificate_through_http_01(tls_stack, acme, vectors):
    out = tls_stack.outputs()
    status, body, _ = acme.get("/up")
    assert status == 200 and body["build"] == out["image"], body
    assert acme.get("/up", host=WWW)[0] == 200
    receipt = out["release"]
    assert "issuer CN=Pebble Intermediate CA" in receipt, receipt
    assert "warning" not in receipt, receipt
    # The edge's own log: the authorisation passed over HTTP-01 (TLS-ALPN is closed here)
    log = sh("docker", "logs", f"{NAME}-edge").stderr
    assert '"challenge":"http-01"' in log and "certificate obtained successfully" in log, log[
        -3000:
    ]
    vectors.check(
        "tls acme: state after up", normalize_state(tls_stack.state(), str(tls_stack.project))
    )


def test_a_release_under_https_load_keeps_the_certificate(tls_stack, acme):
    p = tls_stack
    serial = acme.serial()
    old = p.outputs()["image"]
    p.set("image.build_args.APP_CODE_VERSION", "v2")

    def get(path: str) -> tuple[int, Any]:
        status, body, _ = acme.get(path, timeout=2)
        return status, body

    with Load(rate=20, get=get) as load:
        p.up()
    new = p.outputs()["image"]
    assert new != old
    failures = load.failures(old, new)
    assert failures == {}, f"failed requests during the release: {failures}"
    assert load.builds[new] > 0, load.builds
    assert acme.get("/up")[1]["build"] == new
    assert acme.serial() == serial  # no new certificate for a release


def test_a_failed_verify_behind_the_edge_switches_back(tls_stack, acme):
    # A static public/up: the direct check passes, the check through the edge does not.
    p = tls_stack
    old = acme.get("/up")[1]["build"]
    static = p.project / "examples/laravel-app/public/up"
    static.write_text('{"build": "static"}\n')
    p.set("health.retries", "3")

    def get(path: str) -> tuple[int, Any]:
        status, body, _ = acme.get(path, timeout=2)
        return status, body

    try:
        with Load(rate=20, get=get) as load:
            res = p.up(check=False)
    finally:
        static.unlink()
        p.rm("health.retries")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and f"switched back to {old}" in out, out[-3000:]
    assert "https://" in out.split(f"switched back to {old}")[1].splitlines()[0]  # via the edge
    assert load.failures(old, "static") == {}, load.builds
    for _ in range(20):
        assert acme.get("/up")[1]["build"] == old


def test_a_new_edge_container_requests_no_new_certificate(tls_stack, acme):
    p = tls_stack
    serial = acme.serial()
    edge_id = sh("docker", "inspect", "--format", "{{.Id}}", f"{NAME}-edge").stdout
    p.set("web.tls.hsts_seconds", "600")
    p.up()
    assert sh("docker", "inspect", "--format", "{{.Id}}", f"{NAME}-edge").stdout != edge_id

    def served_header() -> str:
        return acme.get("/up")[2].get("strict-transport-security", "")

    assert wait_for(served_header, timeout=30, what="the new edge") == "max-age=600"
    assert acme.serial() == serial  # the certificate came from the retained volume
    log = sh("docker", "logs", f"{NAME}-edge").stderr
    assert "obtaining certificate" not in log, log[-3000:]
