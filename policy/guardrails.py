"""The stack's guardrails: what no reviewed change may do, whatever the config says.

Each check is a pure function of a resource's type, URN, inputs (and, where it matters, its
options or the stack's config) that returns the violations as sentences; `POLICIES` wraps them
for pulumi-policy. A value that is unknown during a preview (an output of a resource not yet
created) raises pulumi-policy's UnknownValueError when read: the check is skipped in that
preview and runs again, with the value known, when `pulumi up` registers the resource.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

CONTAINER = "docker:index/container:Container"
COMMAND = "command:local:Command"
VOLUME = "docker:index/volume:Volume"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
DOCKER_PROVIDER = "pulumi:providers:docker"
PROJECT = "laravel-stack"

#: roles (the `laravel-stack.role` label) whose containers run the app image
APP_ROLES = {"app", "queue", "scheduler"}
DATABASE_ROLE = "mysql"
#: Docker's own networks: every container on them can reach the database
DOCKER_NETWORKS = {"bridge", "host", "none", "default"}
DOCKER_SOCKETS = {"/var/run/docker.sock", "/run/docker.sock"}
DIGEST_REF = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
TRUE = {"1", "true", "on", "yes"}
#: stacks whose database volume need not be protected (a config of the pack can change it)
DEFAULT_LOCAL_STACKS = ["local"]


def role(props: Mapping[str, Any]) -> str | None:
    for label in props.get("labels") or []:
        if label.get("label") == "laravel-stack.role":
            return str(label.get("value"))
    return None


def stack_of(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<type>::<name>
    return urn.split("::", 1)[0].split(":", 2)[2]


def is_database_volume(urn: str) -> bool:
    return urn.endswith(f"$laravel-stack:index:NetworkAndVolumes${VOLUME}::db-data")


def is_app_image(urn: str) -> bool:
    return urn.endswith(f"$laravel-stack:index:AppImage${REMOTE_IMAGE}::app")


def stack_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The stack's config as the language host hands it to a policy pack: {"ns:key": json}."""
    raw = json.loads(environ.get("PULUMI_CONFIG") or "{}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith(f"{PROJECT}:"):
            try:
                out[key.split(":", 1)[1]] = json.loads(value)
            except (TypeError, ValueError):
                out[key.split(":", 1)[1]] = value
    return out


def env_map(envs: Iterable[str]) -> dict[str, str]:
    return dict(e.split("=", 1) for e in envs if "=" in e)


# --- the checks: each returns its violations -------------------------------------------------


def database_not_exposed(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != CONTAINER or role(props) != DATABASE_ROLE:
        return []
    out = []
    ports = props.get("ports") or []
    if ports:
        published = ", ".join(f"{p.get('ip') or '0.0.0.0'}:{p.get('external')}" for p in ports)
        out.append(f"the database container publishes a port ({published}): remove `ports`")
    mode = props.get("networkMode")
    if mode and mode not in ("bridge", "default"):
        out.append(f"the database container runs in network mode `{mode}`")
    networks = [n.get("name") for n in props.get("networksAdvanced") or []]
    if len(networks) != 1:
        out.append(
            f"the database container is attached to {len(networks)} networks ({networks}): "
            "it must be on the stack's internal network only"
        )
    elif networks[0] in DOCKER_NETWORKS:
        out.append(f"the database container is on Docker's `{networks[0]}` network")
    return out


def database_shares_only_the_app_network(
    database: Mapping[str, Any], apps: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Stack-wide: the one network the database is on is the app containers' network."""
    db_nets = {n.get("name") for n in database.get("networksAdvanced") or []}
    app_nets = {n.get("name") for a in apps for n in a.get("networksAdvanced") or []}
    stray = db_nets - app_nets
    if apps and stray:
        return [f"the database container is on {sorted(stray)}, not the app's network"]
    return []


def app_runs_a_digest(type_: str, urn: str, props: Mapping[str, Any]) -> list[str]:
    if type_ == REMOTE_IMAGE and is_app_image(urn):
        name = props["name"]
        if not DIGEST_REF.match(name):
            return [f"the app image is pulled as `{name}`, not as repository@sha256:<digest>"]
    if type_ == CONTAINER and role(props) in APP_ROLES:
        image = props["image"]
        if not (IMAGE_ID.match(image) or DIGEST_REF.match(image)):
            return [
                f"the {role(props)} container runs `{image}`: app containers run the image "
                "pulled by digest (its sha256 id), never a tag"
            ]
    return []


def database_volume_kept(
    type_: str,
    urn: str,
    protect: bool,
    config: Mapping[str, Any],
    local_stacks: Sequence[str] = DEFAULT_LOCAL_STACKS,
) -> list[str]:
    if type_ != VOLUME or not is_database_volume(urn):
        return []
    out = []
    # The analyzer protocol does not carry retainOnDelete: the program sets it from this key.
    if (config.get("database") or {}).get("retain_volume") is False:
        out.append("database.retain_volume is false: `pulumi destroy` would delete the data")
    stack = stack_of(urn)
    if not protect and stack not in local_stacks:
        out.append(
            f"the database volume is not protected in stack `{stack}`: set "
            "database.protect_volume: true (only the local stacks "
            f"{sorted(local_stacks)} may leave it unprotected)"
        )
    return out


def backup_before_migrations(
    type_: str,
    urn: str,
    config: Mapping[str, Any],
    local_stacks: Sequence[str] = DEFAULT_LOCAL_STACKS,
) -> list[str]:
    """Advisory: migrations run without the release's backup (release.backup off) outside the
    local stacks. A team that backs up out of band may choose it: it warns, never blocks."""
    if type_ != VOLUME or not is_database_volume(urn):
        return []
    release = config.get("release") or {}

    def on(key: str, default: bool) -> bool:
        value = release.get(key)
        return default if value is None else str(value).lower() == "true"

    stack = stack_of(urn)
    if stack in local_stacks or not on("migrate", True) or on("backup", True):
        return []
    return [
        f"release.backup is off in stack `{stack}`: a migration that drops or rewrites data "
        "cannot be undone (a rollback by digest brings back code, not rows)"
    ]


def no_privileged_or_docker_socket(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != CONTAINER:
        return []
    who = role(props) or props.get("name") or "a container"
    out = []
    if props.get("privileged"):
        out.append(f"the {who} container is privileged")
    for v in props.get("volumes") or []:
        if v.get("hostPath") in DOCKER_SOCKETS:
            out.append(f"the {who} container mounts the Docker socket ({v['hostPath']})")
    for m in props.get("mounts") or []:
        if m.get("source") in DOCKER_SOCKETS:
            out.append(f"the {who} container mounts the Docker socket ({m['source']})")
    return out


def plain_tcp_to_a_remote_host(host: str | None) -> bool:
    if not host or not host.startswith("tcp://"):
        return False
    name = urlsplit(host).hostname or ""
    if name == "localhost":
        return False
    try:
        return not ipaddress.ip_address(name).is_loopback
    except ValueError:
        return True  # a DNS name: not provably this machine


def docker_host_encrypted(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != DOCKER_PROVIDER:
        return []
    host = props.get("host")
    if plain_tcp_to_a_remote_host(host):
        return [
            f"the Docker host `{host}` is plain tcp:// to another machine (unauthenticated root "
            "access to it): use ssh://user@host"
        ]
    return []


def no_debug_in_production(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != CONTAINER or role(props) not in APP_ROLES:
        return []
    env = env_map(props.get("envs") or [])
    if env.get("APP_ENV") == "production" and env.get("APP_DEBUG", "").lower() in TRUE:
        return [
            f"the {role(props)} container has APP_DEBUG on with APP_ENV=production: error pages "
            "would show the environment (keys, passwords) to anyone: set app.debug: false"
        ]
    return []


#: what a hook step is: a release-chain command named hook-<point>-<name>
#: (components/engine/release.py)
HOOK_STEP = re.compile(
    r"laravel-stack:index:ReleaseChain\$command:local:Command::(hook-[a-z0-9-]+)$"
)
ROOT_USERS = {"0", "root", "0:0", "root:root"}
ESCALATION = {"sudo", "su", "doas", "runuser", "setpriv", "chroot", "nsenter"}


def _words(text: str) -> list[str]:
    """A command line's words, with the words of each nested shell line (the server's, over
    ssh) spliced in where that line is."""
    try:
        words = shlex.split(text)
    except ValueError:
        return []
    out: list[str] = []
    for w in words:
        out += _words(w) if " " in w and "hook.php" in w else [w]
    return out


def hook_not_as_root(type_: str, urn: str, props: Mapping[str, Any]) -> list[str]:
    """A hook runs as the web user; as root only with release.hooks…as_root and its reason,
    and never through sudo or the like, which would hide it from this check."""
    found = HOOK_STEP.search(urn) if type_ == COMMAND else None
    if not found:
        return []
    words = _words(str(props.get("create") or ""))
    if not any(w.endswith("/hook.php") for w in words):
        return [f"the hook step {found.group(1)} does not run through hook.php"]
    php = next(i for i, w in enumerate(words) if w.endswith("/hook.php"))
    # the exec that runs hook.php: the last --user before it (past verify, the proxy check's
    # exec comes first)
    users = [i for i, w in enumerate(words[:php]) if w == "--user"]
    user = words[users[-1] + 1] if users else "root"
    head = words[php + 1 : words.index("--", php)] if "--" in words[php:] else []
    argv = words[words.index("--", php) + 1 :] if "--" in words[php:] else []
    reason = head[head.index("--as-root") + 1] if "--as-root" in head[:-1] else ""
    out = []
    if user in ROOT_USERS and not reason.strip():
        out.append(f"the hook {found.group(1)} runs as root without a reason: set "
                   "as_root: true and reason: … in its release.hooks entry, or let it run as "
                   "the web user")  # fmt: skip
    if argv and argv[0].rsplit("/", 1)[-1] in ESCALATION and not reason.strip():
        out.append(f"the hook {found.group(1)} escalates with {argv[0]}: give it as_root: "
                   "true and a reason instead")  # fmt: skip
    return out


# --- pulumi-policy wrappers ------------------------------------------------------------------


def _resource_policy(
    name: str,
    description: str,
    check: Callable[[ResourceValidationArgs], list[str]],
    config_schema: PolicyConfigSchema | None = None,
    level: EnforcementLevel = EnforcementLevel.MANDATORY,
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        for violation in check(args):
            report(violation, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        enforcement_level=level,
        validate=validate,
        config_schema=config_schema,
    )


def _database_network(args: StackValidationArgs, report: ReportViolation) -> None:
    containers = [r for r in args.resources if r.resource_type == CONTAINER]
    apps = [r.props for r in containers if role(r.props) in APP_ROLES]
    for r in containers:
        if role(r.props) == DATABASE_ROLE:
            for violation in database_shares_only_the_app_network(r.props, apps):
                report(violation, r.urn)


def _provider_host(args: ResourceValidationArgs) -> list[str]:
    out = docker_host_encrypted(args.resource_type, args.props)
    # Every docker resource also names its provider: the default provider is checked there.
    if args.provider is not None and args.provider.resource_type == DOCKER_PROVIDER:
        out += docker_host_encrypted(args.provider.resource_type, args.provider.props)
    return sorted(set(out))


#: the pack config of the policies that spare the local stacks
LOCAL_STACKS_SCHEMA = PolicyConfigSchema(
    properties={
        "local_stacks": {
            "type": "array",
            "items": {"type": "string"},
            "default": DEFAULT_LOCAL_STACKS,
        }
    }
)

POLICIES = [
    _resource_policy(
        "database-not-exposed",
        "The database container publishes no port and is attached only to the internal network.",
        lambda a: database_not_exposed(a.resource_type, a.props),
    ),
    StackValidationPolicy(
        name="database-on-the-app-network-only",
        description="The database container's network is the one the app containers are on.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_database_network,
    ),
    _resource_policy(
        "app-runs-a-digest",
        "App, queue and scheduler containers run the image pulled by digest, never a tag.",
        lambda a: app_runs_a_digest(a.resource_type, a.urn, a.props),
    ),
    _resource_policy(
        "database-volume-kept",
        "The database volume is retained, and protected in every stack but the local ones.",
        lambda a: database_volume_kept(
            a.resource_type,
            a.urn,
            a.opts.protect,
            stack_config(),
            a.get_config().get("local_stacks", DEFAULT_LOCAL_STACKS),
        ),
        LOCAL_STACKS_SCHEMA,
    ),
    _resource_policy(
        "backup-before-migrations",
        "Outside the local stacks, every release's migrations run after a backup (advisory).",
        lambda a: backup_before_migrations(
            a.resource_type,
            a.urn,
            stack_config(),
            a.get_config().get("local_stacks", DEFAULT_LOCAL_STACKS),
        ),
        LOCAL_STACKS_SCHEMA,
        EnforcementLevel.ADVISORY,
    ),
    _resource_policy(
        "no-privileged-or-docker-socket",
        "No container is privileged or mounts the Docker socket.",
        lambda a: no_privileged_or_docker_socket(a.resource_type, a.props),
    ),
    _resource_policy(
        "docker-host-encrypted",
        "The Docker host is never plain tcp:// to a non-loopback address.",
        _provider_host,
    ),
    _resource_policy(
        "hooks-not-as-root",
        "A release hook runs as the web user; as root only when its config says why.",
        lambda a: hook_not_as_root(a.resource_type, a.urn, a.props),
    ),
    _resource_policy(
        "no-debug-in-production",
        "APP_DEBUG is off when APP_ENV=production.",
        lambda a: no_debug_in_production(a.resource_type, a.props),
    ),
]
