"""The policy pack's guardrails (policy/guardrails.py): each check, and each policy as pulumi-policy
calls it."""

from __future__ import annotations

import json
from typing import Any

import guardrails as g
import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.policy import PolicyCustomTimeouts, PolicyProviderResource, PolicyResource

STACK_URN = "urn:pulumi:{stack}::laravel-stack::laravel-stack:index:LaravelStack"
DB_VOLUME = "$laravel-stack:index:NetworkAndVolumes$docker:index/volume:Volume::db-data"
APP_IMAGE = "$laravel-stack:index:AppImage$docker:index/remoteImage:RemoteImage::app"
ID = "sha256:" + "a" * 64


def labels(role: str) -> list[dict[str, str]]:
    return [
        {"label": "laravel-stack.stack", "value": "shop"},
        {"label": "laravel-stack.role", "value": role},
    ]


def database(**props: Any) -> dict[str, Any]:
    return {
        "labels": labels("mysql"),
        "networkMode": "bridge",
        "networksAdvanced": [{"name": "shop-internal"}],
        **props,
    }


def app(role: str = "app", env: dict[str, str] | None = None, **props: Any) -> dict[str, Any]:
    env = {"APP_ENV": "production", "APP_DEBUG": "false", **(env or {})}
    return {
        "labels": labels(role),
        "image": ID,
        "envs": [f"{k}={v}" for k, v in env.items()],
        "networksAdvanced": [{"name": "shop-internal"}],
        **props,
    }


# --- database-not-exposed ---------------------------------------------------------------------


def test_database_on_the_internal_network_without_ports_passes():
    assert g.database_not_exposed(g.CONTAINER, database()) == []


@pytest.mark.parametrize(
    "props, says",
    [
        ({"ports": [{"internal": 3306, "external": 3306}]}, "publishes a port (0.0.0.0:3306)"),
        ({"networkMode": "host"}, "network mode `host`"),
        ({"networksAdvanced": [{"name": "shop-internal"}, {"name": "edge"}]}, "attached to 2"),
        ({"networksAdvanced": []}, "attached to 0"),
        ({"networksAdvanced": [{"name": "bridge"}]}, "Docker's `bridge` network"),
    ],
)
def test_database_exposed_is_a_violation(props, says):
    (violation,) = g.database_not_exposed(g.CONTAINER, database(**props))
    assert says in violation


def test_other_containers_may_publish_ports():
    web = {"labels": labels("web"), "ports": [{"external": 80}]}
    assert g.database_not_exposed(g.CONTAINER, web) == []


def test_database_must_share_the_app_network_only():
    assert g.database_shares_only_the_app_network(database(), [app()]) == []
    stray = database(networksAdvanced=[{"name": "other"}])
    assert "not the app's network" in g.database_shares_only_the_app_network(stray, [app()])[0]


# --- app-runs-a-digest ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["app", "queue", "scheduler"])
def test_app_containers_run_an_image_id_or_digest(role):
    assert g.app_runs_a_digest(g.CONTAINER, "u", app(role)) == []
    assert g.app_runs_a_digest(g.CONTAINER, "u", app(role, image="r/x@" + ID)) == []
    (violation,) = g.app_runs_a_digest(g.CONTAINER, "u", app(role, image="r/x:latest"))
    assert f"the {role} container runs `r/x:latest`" in violation


def test_the_app_image_is_pulled_by_digest_but_the_database_image_may_be_a_tag():
    urn = STACK_URN.format(stack="prod") + APP_IMAGE
    assert g.app_runs_a_digest(g.REMOTE_IMAGE, urn, {"name": "r/shop@" + ID}) == []
    assert (
        "not as repository@sha256"
        in g.app_runs_a_digest(g.REMOTE_IMAGE, urn, {"name": "r/shop:v2"})[0]
    )
    mysql = (
        STACK_URN.format(stack="prod")
        + "$laravel-stack:index:Database$"
        + g.REMOTE_IMAGE
        + "::mysql"
    )
    assert g.app_runs_a_digest(g.REMOTE_IMAGE, mysql, {"name": "mysql:8.0"}) == []
    assert g.app_runs_a_digest(g.CONTAINER, "u", database(image="mysql:8.0")) == []


# --- database-volume-kept ---------------------------------------------------------------------


def volume_urn(stack: str) -> str:
    return STACK_URN.format(stack=stack) + DB_VOLUME


def test_database_volume_protected_and_retained_passes():
    assert g.database_volume_kept(g.VOLUME, volume_urn("prod"), True, {}) == []


def test_database_volume_unprotected_outside_local_stacks_is_a_violation():
    (violation,) = g.database_volume_kept(g.VOLUME, volume_urn("prod"), False, {})
    assert "not protected in stack `prod`" in violation
    assert g.database_volume_kept(g.VOLUME, volume_urn("local"), False, {}) == []
    assert g.database_volume_kept(g.VOLUME, volume_urn("e2e"), False, {}, ["e2e"]) == []


def test_database_volume_not_retained_is_a_violation_everywhere():
    cfg = {"database": {"retain_volume": False}}
    (violation,) = g.database_volume_kept(g.VOLUME, volume_urn("local"), False, cfg)
    assert "database.retain_volume is false" in violation


def test_other_volumes_are_not_the_database_volume():
    storage = STACK_URN.format(stack="prod") + DB_VOLUME.replace("db-data", "storage")
    assert g.database_volume_kept(g.VOLUME, storage, False, {}) == []


def test_stack_config_comes_from_the_language_host_environment():
    env = {
        "PULUMI_CONFIG": json.dumps(
            {"laravel-stack:database": json.dumps({"retain_volume": False}), "aws:region": "x"}
        )
    }
    assert g.stack_config(env) == {"database": {"retain_volume": False}}
    assert g.stack_config({}) == {}


# --- no-privileged-or-docker-socket -----------------------------------------------------------


@pytest.mark.parametrize(
    "props, says",
    [
        ({"privileged": True}, "is privileged"),
        (
            {"volumes": [{"hostPath": "/var/run/docker.sock", "containerPath": "/s"}]},
            "Docker socket",
        ),
        (
            {"mounts": [{"source": "/run/docker.sock", "target": "/s", "type": "bind"}]},
            "Docker socket",
        ),
    ],
)
def test_privileged_or_docker_socket_is_a_violation(props, says):
    (violation,) = g.no_privileged_or_docker_socket(g.CONTAINER, app(**props))
    assert says in violation


def test_named_volumes_and_unprivileged_containers_pass():
    props = app(volumes=[{"volumeName": "shop-storage", "containerPath": "/s"}], privileged=False)
    assert g.no_privileged_or_docker_socket(g.CONTAINER, props) == []


# --- docker-host-encrypted --------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, bad",
    [
        ("tcp://203.0.113.7:2375", True),
        ("tcp://vps1.example.com:2376", True),
        ("tcp://127.0.0.1:2375", False),
        ("tcp://localhost:2375", False),
        ("tcp://[::1]:2375", False),
        ("ssh://deploy@vps1.example.com", False),
        ("unix:///var/run/docker.sock", False),
        (None, False),
    ],
)
def test_docker_host_plain_tcp_to_another_machine(host, bad):
    assert bool(g.docker_host_encrypted(g.DOCKER_PROVIDER, {"host": host})) is bad


# --- no-debug-in-production -------------------------------------------------------------------


@pytest.mark.parametrize(
    "env, bad",
    [
        ({"APP_DEBUG": "true"}, True),
        ({"APP_DEBUG": "1"}, True),
        ({"APP_DEBUG": "false"}, False),
        ({"APP_DEBUG": "true", "APP_ENV": "staging"}, False),
    ],
)
def test_debug_in_production(env, bad):
    assert bool(g.no_debug_in_production(g.CONTAINER, app("queue", env))) is bad


# --- as pulumi-policy runs them ---------------------------------------------------------------


def opts(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def validate(policy_name: str, args: Any) -> list[str]:
    (policy,) = [p for p in g.POLICIES if p.name == policy_name]
    seen: list[str] = []
    policy.validate(args, lambda message, urn=None: seen.append(message))  # type: ignore[attr-defined]
    return seen


def test_every_policy_is_mandatory_but_the_backup_one_and_named():
    names = [p.name for p in g.POLICIES]
    assert len(names) == len(set(names)) == 9
    levels = {p.name: p.enforcement_level for p in g.POLICIES}
    # A team that backs up out of band may turn the release's backup off: a warning only.
    assert levels.pop("backup-before-migrations") == EnforcementLevel.ADVISORY
    assert set(levels.values()) == {EnforcementLevel.MANDATORY}


@pytest.mark.parametrize(
    "stack, release, warned",
    [
        ("prod", {"backup": False}, True),
        ("prod", {"backup": "false"}, True),
        ("prod", {}, False),  # on by default
        ("prod", {"migrate": False, "backup": False}, False),  # no migrations: nothing to lose
        ("local", {"backup": False}, False),
    ],
)
def test_migrations_without_a_backup_outside_local_stacks_are_warned(stack, release, warned):
    out = g.backup_before_migrations(g.VOLUME, volume_urn(stack), {"release": release})
    assert bool(out) is warned, out
    if warned:
        assert "release.backup is off in stack `prod`" in out[0]


def test_the_database_volume_policy_reads_its_local_stacks_config():
    urn = volume_urn("e2e")
    args = ResourceValidationArgs(g.VOLUME, {"name": "v"}, urn, "db-data", opts(), None, {})
    assert validate("database-volume-kept", args)
    args = ResourceValidationArgs(
        g.VOLUME, {"name": "v"}, urn, "db-data", opts(), None, {"local_stacks": ["e2e"]}
    )
    assert validate("database-volume-kept", args) == []


def test_the_host_policy_checks_each_resource_s_provider():
    provider = PolicyProviderResource(
        g.DOCKER_PROVIDER, {"host": "tcp://198.51.100.1:2375"}, "p", "p"
    )
    args = ResourceValidationArgs(g.CONTAINER, app(), "u", "x", opts(), provider, {})
    assert "plain tcp://" in validate("docker-host-encrypted", args)[0]


def test_the_debug_policy_reports_through_pulumi_policy():
    args = ResourceValidationArgs(
        g.CONTAINER, app(env={"APP_DEBUG": "on"}), "u", "x", opts(), None, {}
    )
    assert "APP_DEBUG on" in validate("no-debug-in-production", args)[0]


def test_the_stack_policy_finds_the_database_off_the_app_network():
    def res(props: dict[str, Any], name: str) -> PolicyResource:
        return PolicyResource(g.CONTAINER, props, f"urn::{name}", name, opts(), None, None, [], {})

    resources = [res(app(), "app"), res(database(networksAdvanced=[{"name": "x"}]), "mysql")]
    assert validate("database-on-the-app-network-only", StackValidationArgs(resources, {}))
    resources = [res(app(), "app"), res(database(), "mysql")]
    assert validate("database-on-the-app-network-only", StackValidationArgs(resources, {})) == []
