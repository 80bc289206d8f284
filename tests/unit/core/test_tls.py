"""web.tls: config rules, certificate checks before any change, the edge and its Caddyfile."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
import pytest

from components import commands
from components.config import ConfigError, parse
from components.core import files, tls
from tests.e2e.certs import OwnCA

from ..config.test_config import with_
from ..harness import SECRET_KEYS, Run, run_program

SITE, WWW = "shop.example.com", "www.shop.example.com"


@pytest.fixture(scope="module")
def ca() -> OwnCA:
    return OwnCA("unit CA")


def files_mode(ca: OwnCA, names=(SITE, WWW), days: float = 90, key: str | None = None):
    leaf = ca.issue(list(names), days=days)
    return with_(
        "web.tls",
        {
            "mode": "files",
            "domains": [SITE, WWW],
            "certificate": leaf.cert,
            "key": key or leaf.key,
        },
    )


ACME = with_("web.tls", {"mode": "acme", "domains": [SITE], "email": "ops@example.com"})
WEB_SECRET = (*SECRET_KEYS, "web")


def problems(raw: dict[str, Any], secret_keys=WEB_SECRET) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(raw, secret_keys)
    return err.value.problems


def test_off_by_default_and_both_modes_parse(ca):
    assert parse(with_("web.port", 8080), SECRET_KEYS).web.tls.mode == "off"
    assert parse(ACME, SECRET_KEYS).web.tls.site_name == SITE
    assert parse(files_mode(ca), WEB_SECRET).web.tls.mode == "files"


@pytest.mark.parametrize(
    ("tls_cfg", "expected"),
    [
        ({"mode": "acme", "domains": [SITE]}, "web.tls: mode acme needs email"),
        ({"mode": "files", "domains": [SITE]}, "web.tls: mode files needs certificate, key"),
        ({"mode": "acme", "email": "a@b.co"}, "web.tls: mode acme needs domains"),
        (
            {"mode": "acme", "domains": ["*.example.com", SITE], "email": "a@b.co"},
            "web.tls: mode acme cannot issue *.example.com",
        ),
        (
            {"mode": "acme", "domains": ["Shop.Example.com"], "email": "a@b.co"},
            "web.tls.domains[0]",
        ),
        ({"mode": "acme", "domains": [SITE, SITE], "email": "a@b.co"}, "web.tls: domains lists"),
        ({"mode": "acme", "domains": [SITE], "email": "nobody"}, "web.tls.email"),
        (
            {"mode": "acme", "domains": [SITE], "email": "a@b.co", "acme_directory": "http://x"},
            "web.tls.acme_directory",
        ),
        ({"mode": "https"}, "web.tls.mode"),
        ({"mode": "acme", "domains": [SITE], "email": "a@b.co", "tls": 1}, "web.tls.tls: unknown"),
    ],
)
def test_bad_tls_config_names_the_key(tls_cfg, expected):
    found = problems(with_("web.tls", tls_cfg))
    assert any(p.startswith(expected) for p in found), found


def test_ports_and_app_url_must_agree_with_tls():
    raw = with_("web.tls.https_port", 8080, ACME)
    assert any(p.startswith("web.tls.https_port: 8080 is web.port too") for p in problems(raw))
    raw = with_("app.url", "http://shop.example.com", ACME)
    found = problems(raw)
    assert any(p.startswith("app.url: http://shop.example.com must be https://") for p in found)


def test_the_key_must_be_a_pulumi_secret(ca):
    found = problems(files_mode(ca), SECRET_KEYS)
    assert found == [
        "web.tls.key: given in plain text; set it with "
        "`pulumi config set --secret --path web.tls.key <value>`"
    ]


def test_a_key_that_does_not_match_is_refused_without_echoing_it(ca):
    wrong = OwnCA.other_key()
    found = problems(files_mode(ca, key=wrong))
    assert found == [
        "web.tls.key: does not match web.tls.certificate (the first certificate's public key "
        "is another key's): give the key the certificate was issued for"
    ]
    assert wrong.splitlines()[1] not in "\n".join(found)


def test_the_certificate_must_cover_every_domain_and_be_valid_now(ca):
    found = problems(files_mode(ca, names=(SITE,)))
    assert found == [f"web.tls.certificate: does not cover {WWW} (its names: {SITE})"]
    leaf = ca.issue([SITE, WWW], days=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    found = tls.check_files(leaf.cert, leaf.key, [SITE], now=later)
    assert len(found) == 1 and found[0].startswith("web.tls.certificate: expired on "), found
    assert tls.check_files("not a pem", leaf.key, [SITE]) == [
        "web.tls.certificate: not a PEM certificate chain (-----BEGIN CERTIFICATE-----…)"
    ]
    assert tls.check_files(leaf.cert, "nope", [SITE]) == [
        "web.tls.key: not an unencrypted PEM private key"
    ]


def test_a_chain_must_go_leaf_first(ca):
    leaf = ca.issue([SITE], days=30)
    assert tls.check_files(leaf.cert + ca.pem, leaf.key, [SITE]) == []
    found = tls.check_files(leaf.cert + OwnCA("other").pem, leaf.key, [SITE])
    assert found == [
        "web.tls.certificate: certificate 2 did not issue certificate 1: put the leaf first, "
        "then each issuer in order"
    ]


def test_wildcards_cover_one_label():
    assert tls.covers(["*.example.com"], "shop.example.com")
    assert not tls.covers(["*.example.com"], "a.shop.example.com")
    assert not tls.covers(["*.example.com"], "example.com")
    assert tls.covers(["*.example.com"], "*.example.com")  # the same wildcard


def test_ca_roots_must_be_pem():
    raw = with_("web.tls.ca_roots", "junk", ACME)
    assert "web.tls.ca_roots: not PEM certificates (-----BEGIN CERTIFICATE-----…)" in problems(raw)


def test_caddyfile_for_acme_redirects_http_and_names_the_ca():
    text = files.caddyfile(
        mode="acme", domains=[SITE, WWW], http_port=80, https_port=443, upstream="shop-web:80",
        email="ops@example.com", acme_directory="https://acme.internal/dir", ca_roots=True,
        hsts_seconds=600,
    )  # fmt: skip
    assert "\temail ops@example.com\n" in text
    assert "\tacme_ca https://acme.internal/dir\n" in text
    assert f"\tacme_ca_root {files.EDGE_ROOTS}\n" in text
    assert "\tservers {\n\t\tprotocols h1 h2\n\t}\n" in text
    assert f"http://{SITE}, http://{WWW} {{\n\tredir https://{{host}}{{uri}} 308\n}}" in text
    assert f"{SITE}, {WWW} {{\n\ttls {{\n\t\tprotocols tls1.2 tls1.3\n\t}}" in text
    assert '\theader Strict-Transport-Security "max-age=600"\n' in text
    assert "\treverse_proxy shop-web:80\n" in text


def test_caddyfile_for_files_loads_the_uploaded_pair_and_names_a_custom_port():
    text = files.caddyfile(
        mode="files", domains=[SITE], http_port=8080, https_port=8443, upstream="shop-web:80",
        hsts_seconds=0,
    )  # fmt: skip
    assert f"\ttls {files.EDGE_CHAIN} {files.EDGE_KEY} {{\n" in text
    assert "redir https://{host}:8443{uri} 308" in text
    assert "email" not in text and "acme_ca" not in text and "Strict-Transport" not in text
    with pytest.raises(ValueError):
        files.caddyfile(mode="off", domains=[SITE], http_port=80, https_port=443, upstream="x")


def test_nginx_behind_the_edge_tells_the_app_the_request_was_https():
    assert "fastcgi_param HTTPS on;" in files.nginx_conf("/var/www/html", "fpm", True)
    assert "HTTPS on" not in files.nginx_conf("/var/www/html", "fpm", False)
    octane = files.nginx_conf("/var/www/html", "octane", True)
    assert "proxy_set_header X-Forwarded-Proto https;" in octane


def test_the_https_probe_gets_the_roots_and_the_warning_threshold():
    argv = commands.health_probe(
        commands.Engine("unix:///var/run/docker.sock"),
        "shop-app-1", "www-data", "https://shop.example.com:443/up", expected_status=200,
        build_field="build", build="r@sha256:1", retries=3, interval=1, timeout=2,
        cafile=files.APP_CA_ROOTS, warn_days=tls.EXPIRY_WARNING_DAYS,
    )  # fmt: skip
    assert argv[-2:] == [files.APP_CA_ROOTS, "14"]
    plain = commands.health_probe(
        commands.Engine("unix:///var/run/docker.sock"), "c", "u", "http://web:80/up",
        expected_status=200, build_field="build", build="b", retries=1, interval=1, timeout=1,
    )  # fmt: skip
    assert plain[-8:] == ["http://web:80/up", "200", "build", "b", "1", "1", "1", ""]


@pytest.fixture(scope="module")
def files_run(ca) -> Run:
    raw = files_mode(ca)
    raw["web"]["tls"]["ca_roots"] = ca.pem
    raw["web"]["tls"]["https_port"] = 8443
    return run_program(raw, WEB_SECRET)


def test_the_edge_owns_the_ports_and_nginx_is_internal(files_run):
    run = files_run
    assert run.one("LaravelStack", "test") and run.one("TlsEdge", "edge")
    edge = run.one("container:Container", "edge")
    assert run.value(edge, "name") == "shop-edge"
    ports = [{k: p[k] for k in ("internal", "external", "ip")} for p in run.value(edge, "ports")]
    assert ports == [
        {"internal": 8080, "external": 8080, "ip": "127.0.0.1"},
        {"internal": 8443, "external": 8443, "ip": "127.0.0.1"},
    ]
    nginx = run.one("container:Container", "nginx")
    assert not run.value(nginx, "ports")
    (net,) = run.value(edge, "networksAdvanced")
    assert net["aliases"] == ["edge", SITE, WWW]
    uploads = {u["file"]: u for u in run.value(edge, "uploads")}
    assert set(uploads) == {"/etc/caddy/Caddyfile", files.EDGE_ROOTS, files.EDGE_CHAIN,
                            files.EDGE_KEY}  # fmt: skip
    assert run.is_secret(edge, "uploads")  # the key
    assert "uploads" in edge.additional_secret_outputs
    volume = run.one("volume:Volume", "tls")
    assert volume.retain_on_delete and run.value(volume, "name") == "shop-tls"


def test_with_tls_the_urls_are_https_and_verify_goes_through_the_edge(files_run):
    run = files_run
    assert run.outputs["web_url"] == f"https://{SITE}:8443/"
    assert run.outputs["health_url"] == f"https://{SITE}:8443/up"
    verify = run.line(run.one("command:local:Command", "verify"))
    assert f"https://{SITE}:8443/up" in verify and files.APP_CA_ROOTS in verify
    app = run.one("container:Container", "shop-app")
    assert files.APP_CA_ROOTS in {u["file"] for u in run.value(app, "uploads")}
    assert f"APP_URL=https://{SITE}:8443" in run.value(app, "envs")
    chain = run.one("command:local:Command", "contract")
    edge = run.one("container:Container", "edge")
    assert edge.urn in run.by_urn(chain.urn).dependencies


def test_acme_edge_keeps_no_secret_and_off_declares_no_edge():
    run = run_program(ACME, SECRET_KEYS)
    edge = run.one("container:Container", "edge")
    assert not run.is_secret(edge, "uploads")
    assert run.outputs["web_url"] == f"https://{SITE}/"
    off = run_program(with_("web.port", 8080), SECRET_KEYS)
    assert not off.of_type("TlsEdge")
    assert off.value(off.one("container:Container", "nginx"), "ports")


def test_bad_tls_config_fails_before_any_resource(ca):
    run = Run()
    with pytest.raises(pulumi.RunError):
        run_program(files_mode(ca, key=OwnCA.other_key()), WEB_SECRET, run=run)
    assert run.registrations == []
