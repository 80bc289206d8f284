"""Bad config fails before any resource is registered, one line per problem, naming the key."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from components.config import DEFAULT_PHP_INI, ConfigError, parse

from ..harness import APP_KEY, SECRET_KEYS, Run, run_program, valid_config


def with_(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of the valid config with `path` (dotted) set, or removed when value is ...."""
    cfg = copy.deepcopy(base or valid_config())
    *parents, leaf = path.split(".")
    node = cfg
    for p in parents:
        node = node.setdefault(p, {})
    if value is ...:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return cfg


BAD: list[tuple[str, dict[str, Any], tuple[str, ...], str]] = [
    (
        "missing repository",
        with_("image.repository", ...),
        SECRET_KEYS,
        "image.repository: required key is missing",
    ),
    (
        "latest tag",
        with_("image.tag", "latest"),
        SECRET_KEYS,
        "image.tag: 'latest' is not allowed for the app image",
    ),
    (
        "tag inside repository",
        with_("image.repository", "registry.example.com/acme/shop:1"),
        SECRET_KEYS,
        "image.repository: give the repository without tag or digest",
    ),
    (
        "digest inside repository",
        with_("image.repository", "registry.example.com/a@sha256:ab"),
        SECRET_KEYS,
        "image.repository: give the repository without tag or digest",
    ),
    (
        "unpinned platform",
        with_("image.platform", "amd64"),
        SECRET_KEYS,
        "image.platform: must be a pinned platform",
    ),
    (
        "image given as a string",
        with_("image", "shop:1"),
        SECRET_KEYS,
        "image: Input should be a valid dictionary",
    ),
    ("unknown top-level key", with_("databse", {"user": "x"}), SECRET_KEYS, "databse: unknown key"),
    (
        "unknown nested key",
        with_("database.pasword", "x"),
        SECRET_KEYS,
        "database.pasword: unknown key",
    ),
    (
        "port out of range",
        with_("web.port", 70000),
        SECRET_KEYS,
        "web.port: Input should be less than or equal to 65535",
    ),
    (
        "port wrong type",
        with_("web.port", "eighty"),
        SECRET_KEYS,
        "web.port: Input should be a valid integer",
    ),
    (
        "publish host not an IP",
        with_("web.host", "localhost"),
        SECRET_KEYS,
        "web.host: must be an IPv4 address",
    ),
    (
        "unknown runtime",
        with_("web.runtime", "apache"),
        SECRET_KEYS,
        "web.runtime: Input should be 'fpm' or 'octane'",
    ),
    (
        "docker host http url",
        with_("docker.host", "http://10.0.0.5:2375"),
        SECRET_KEYS,
        "docker.host: must be unix:///path/to/docker.sock, ssh://user@host[:port]",
    ),
    (
        "docker host ssh without user",
        with_("docker.host", "ssh://example.com"),
        SECRET_KEYS,
        "docker.host: must be unix:///path/to/docker.sock",
    ),
    (
        "missing db password",
        with_("database.password", ...),
        SECRET_KEYS,
        "database.password: required key is missing",
    ),
    (
        "db password in plain text",
        valid_config(),
        ("registry", "app"),
        "database.password: given in plain text; set it with `pulumi config set --secret --path",
    ),
    (
        "app key in plain text",
        valid_config(),
        ("registry", "database"),
        "app.key: given in plain text",
    ),
    (
        "registry password in plain text",
        valid_config(),
        ("database", "app"),
        "registry.password: given in plain text",
    ),
    (
        "app key not base64:",
        with_("app.key", "s3cr3t"),
        SECRET_KEYS,
        "app.key: must look like base64:<44 chars>",
    ),
    (
        "app key wrong length",
        with_("app.key", "base64:QUJD"),
        SECRET_KEYS,
        "app.key: must decode to 32 bytes",
    ),
    (
        "registry user without password",
        with_("registry.password", ...),
        SECRET_KEYS,
        "registry: username and password go together",
    ),
    (
        "image on another registry",
        with_("image.repository", "ghcr.io/acme/shop"),
        SECRET_KEYS,
        "image.repository: must live on registry.server (registry.example.com/...)",
    ),
    (
        "db user root",
        with_("database.user", "root"),
        SECRET_KEYS,
        "database.user: the app must not connect as root",
    ),
    (
        "zero queue replicas",
        with_("queue.replicas", 0),
        SECRET_KEYS,
        "queue.replicas: Input should be greater than or equal to 1",
    ),
    (
        "external network without name",
        with_("network.external", True),
        SECRET_KEYS,
        "network: an external network must be given by name (network.name)",
    ),
    (
        "unknown release step",
        with_("release.skip", ["cache-warm"]),
        SECRET_KEYS,
        "release.skip[0]: Input should be 'contract', 'ownership'",
    ),
    (
        "zero health retries",
        with_("health.retries", 0),
        SECRET_KEYS,
        "health.retries: Input should be greater than or equal to 1",
    ),
    (
        "health path without slash",
        with_("health.path", "up"),
        SECRET_KEYS,
        "health.path: String should match pattern",
    ),
    (
        "managed env in extra_env",
        with_("app.extra_env", {"APP_KEY": "x"}),
        SECRET_KEYS,
        "app.extra_env: APP_KEY are set by the stack",
    ),
    ("bad stack name", with_("name", "Shop!"), SECRET_KEYS, "name: String should match pattern"),
    (
        "web uid out of range",
        with_("web_user.uid", 0),
        SECRET_KEYS,
        "web_user.uid: Input should be greater than or equal to 1",
    ),
    (
        "build header with octane",
        with_("health.build_from", "header", with_("web.runtime", "octane")),
        SECRET_KEYS,
        "health.build_from: header needs PHP-FPM on one engine",
    ),
    (
        "build header and the app's own auto_prepend_file",
        with_("web.php_ini", {"auto_prepend_file": "/app/prepend.php"}),
        SECRET_KEYS,
        "web.php_ini.auto_prepend_file: the stack's build header uses it",
    ),
    (
        "build header with a health path php.ini cannot carry",
        with_("health.path", '/up"x'),
        SECRET_KEYS,
        'health.path: no ", $ or \\ with health.build_from header',
    ),
    (
        "unknown build source",
        with_("health.build_from", "json"),
        SECRET_KEYS,
        "health.build_from: Input should be 'header' or 'body'",
    ),
]


@pytest.mark.parametrize(
    ("raw", "secret_keys", "expected"),
    [pytest.param(raw, keys, expected, id=name) for name, raw, keys, expected in BAD],
)
def test_bad_config_fails_before_any_resource(raw, secret_keys, expected):
    run = Run()
    with pytest.raises(pulumi.RunError) as err:
        run_program(raw, secret_keys, run=run)
    lines = str(err.value).splitlines()
    assert lines[0] == "invalid stack config:"
    assert any(line.strip().startswith(expected) for line in lines[1:]), lines
    assert run.registrations == [], "resources registered before config was validated"


def test_every_problem_is_reported_on_its_own_line():
    raw = with_("web.port", 0, with_("image.tag", "latest", with_("database.root_password", ...)))
    with pytest.raises(ConfigError) as err:
        parse(raw, SECRET_KEYS)
    assert sorted(p.split(":")[0] for p in err.value.problems) == [
        "database.root_password",
        "image.tag",
        "web.port",
    ]


def test_secrets_are_not_echoed_in_errors():
    raw = with_("app.key", "base64:not-really-a-key-but-secret")
    with pytest.raises(ConfigError) as err:
        parse(raw, SECRET_KEYS)
    assert "not-really-a-key" not in str(err.value)


def test_defaults_cover_everything_the_field_notes_vary():
    cfg = parse(valid_config(), SECRET_KEYS)
    assert cfg.docker.host == "unix:///var/run/docker.sock"
    assert cfg.web.runtime == "fpm"
    assert cfg.web_user.name == "www-data" and cfg.web_user.uid == 33
    assert cfg.database.image == "mysql:8.0"
    assert cfg.queue.command == [
        "php",
        "artisan",
        "queue:work",
        "--sleep=3",
        "--tries=3",
        "--max-time=3600",
    ]
    assert cfg.web.php_ini["opcache.validate_timestamps"] == "0"
    assert cfg.network_name == "shop-internal"
    assert cfg.steps() == [
        "contract",
        "ownership",
        "backup",
        "migrate",
        "cache-clear",
        "opcache-reset",
        "cache-rebuild",
        "workers-restart",
        "health",
        "switch",
        "verify",
        "public-prune",
        "retention",
    ]


def test_php_ini_overrides_merge_with_production_defaults():
    cfg = parse(with_("web.php_ini", {"memory_limit": "1G"}), SECRET_KEYS)
    assert cfg.web.php_ini["memory_limit"] == "1G"
    assert (
        cfg.web.php_ini["opcache.validate_timestamps"]
        == DEFAULT_PHP_INI["opcache.validate_timestamps"]
    )


def test_steps_follow_release_switches():
    raw = with_("release", {"migrate": False, "skip": ["opcache-reset"]})
    raw = with_("queue.enabled", False, raw)
    assert parse(raw, SECRET_KEYS).steps() == [
        "contract",
        "ownership",
        "cache-clear",
        "cache-rebuild",
        "health",
        "switch",
        "verify",
        "public-prune",
        "retention",
    ]


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKiHn212C3cRN"


def test_ssh_docker_host_is_accepted_with_its_host_key_pinned():
    raw = with_("docker", {"host": "ssh://deploy@vps.example.com:2222",
                           "known_hosts": [f"[vps.example.com]:2222 {KEY}"]})  # fmt: skip
    cfg = parse(raw, SECRET_KEYS)
    assert cfg.docker.host == "ssh://deploy@vps.example.com:2222"
    assert cfg.docker.ssh_multiplex is True


@pytest.mark.parametrize(
    ("docker", "problem"),
    [
        ({"host": "ssh://deploy@vps.example.com"},
         "docker.known_hosts: no line for vps.example.com (docker.host ssh://deploy@vps.example.com)"),
        ({"host": "ssh://deploy@vps.example.com:2222", "known_hosts": [f"vps.example.com {KEY}"]},
         "docker.known_hosts: no line for [vps.example.com]:2222"),
        ({"known_hosts": ["vps.example.com ssh-ed25519"]},
         "docker.known_hosts: line 1 is not a known_hosts line"),
        ({"known_hosts": [f"vps.example.com {KEY}; rm -rf /"]},
         "docker.known_hosts: line 1 is not a known_hosts line"),
    ],
)  # fmt: skip
def test_an_unpinned_or_malformed_host_key_is_refused(docker, problem):
    with pytest.raises(ConfigError) as err:
        parse(with_("docker", docker), SECRET_KEYS)
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(problem), err.value


def test_build_host_is_an_engine_url_and_an_ssh_builder_is_pinned_too():
    assert parse(valid_config(), SECRET_KEYS).image.build_host is None
    with pytest.raises(ConfigError) as err:
        parse(with_("image.build_host", "builder.example.com"), SECRET_KEYS)
    assert err.value.problems[0].startswith("image.build_host: must be unix:///")
    with pytest.raises(ConfigError) as err:
        parse(with_("image.build_host", "ssh://ci@builder.example.com"), SECRET_KEYS)
    assert "no line for builder.example.com (image.build_host" in err.value.problems[0]


def test_app_key_fixture_is_valid():
    assert parse(with_("app.key", APP_KEY), SECRET_KEYS).app.key.get_secret_value() == APP_KEY


def test_the_example_production_stack_is_valid_once_its_secrets_are_set():
    import yaml

    from ..harness import ROOT

    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    raw = {k.removeprefix("laravel-stack:"): v for k, v in doc["config"].items()}
    with pytest.raises(ConfigError) as err:
        parse(raw, SECRET_KEYS)
    assert sorted(p.split(":")[0] for p in err.value.problems) == [
        "app.key", "database.password", "database.root_password", "registry",
    ]  # fmt: skip
    raw["registry"]["password"] = "token"
    raw["database"].update(password="a", root_password="b")
    raw["app"]["key"] = APP_KEY
    cfg = parse(raw, SECRET_KEYS)
    assert cfg.network.external and cfg.network_name == "docker_internal"
    assert cfg.docker.host == "ssh://deploy@vps1.example.com"


def test_numbers_and_booleans_set_with_pulumi_config_become_text():
    raw = with_("image.build_args", {"BAKE": 1, "RATIO": 1.5})
    raw = with_("app.extra_env", {"FEATURE_X": True}, raw)
    cfg = parse(raw, SECRET_KEYS)
    assert cfg.image.build_args == {"BAKE": "1", "RATIO": "1.5"}
    assert cfg.app.extra_env == {"FEATURE_X": "true"}


def test_maintenance_needs_its_bypass_secret_and_as_a_pulumi_secret():
    with pytest.raises(ConfigError) as err:
        parse(with_("release.maintenance", True, valid_config()), SECRET_KEYS)
    assert err.value.problems == [
        "release.maintenance_secret: required with release.maintenance (the path that lets you "
        "in during maintenance): `pulumi config set --secret --path release.maintenance_secret "
        "<a long random string>`"
    ]
    raw = with_("release", {"maintenance": True, "maintenance_secret": "s" * 20}, valid_config())
    with pytest.raises(ConfigError) as err:
        parse(raw, [k for k in SECRET_KEYS if k != "release"])
    assert err.value.problems[0].startswith("release.maintenance_secret: given in plain text")
    cfg = parse(raw, SECRET_KEYS)
    assert cfg.steps().index("maintenance-down") == cfg.steps().index("migrate") - 1
    assert cfg.steps().index("maintenance-up") == cfg.steps().index("verify") + 1
    with pytest.raises(ConfigError) as err:
        parse(with_("release.maintenance_retry", 0, valid_config()), SECRET_KEYS)
    assert err.value.problems[0].startswith("release.maintenance_retry:")


def test_backup_follows_migrate_unless_set():
    assert "backup" in parse(valid_config(), SECRET_KEYS).steps()
    assert (
        "backup" not in parse(with_("release.migrate", False, valid_config()), SECRET_KEYS).steps()
    )
    off = parse(with_("release.backup", False, valid_config()), SECRET_KEYS)
    assert "backup" not in off.steps() and "migrate" in off.steps()
    with pytest.raises(ConfigError) as err:
        parse(with_("release.keep_backups", 0, valid_config()), SECRET_KEYS)
    assert err.value.problems[0].startswith("release.keep_backups:")


def test_the_build_is_read_from_the_stacks_header_for_fpm_and_from_the_route_elsewhere():
    fpm = parse(valid_config(), SECRET_KEYS)
    assert (fpm.build_from, fpm.probe_field) == ("header", "header:X-Laravel-Stack-Build")
    octane = parse(with_("web.runtime", "octane"), SECRET_KEYS)
    assert (octane.build_from, octane.probe_field) == ("body", "build")
    # the old way on FPM: the app's own route, its JSON field (and its own auto_prepend_file)
    kept = with_(
        "web.php_ini",
        {"auto_prepend_file": "/app/prepend.php"},
        with_("health.build_from", "body", with_("health.build_field", "meta.build")),
    )
    assert parse(kept, SECRET_KEYS).probe_field == "meta.build"
