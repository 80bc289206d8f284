"""What every service of the swarm stack shares: durations as the provider reads them back,
restart and update policies, health checks, the overlay attachment, docker configs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_docker as docker

from ..config import StackConfig
from ..core.common import go_duration


def short_duration(seconds: int) -> str:
    """A duration as upstream's provider reads it back (kreuzwerker `shortDur`: Go's
    `Duration.String()`, then a trailing `m0s` loses its `0s` and a trailing `h0m` its `0m`):
    60 -> "1m", 90 -> "1m30s", 3600 -> "1h", 0 -> "0s". Declared any other way, every preview
    shows a diff."""
    text = go_duration(seconds)
    if text.endswith("m0s"):
        text = text[:-2]
    if text.endswith("h0m"):
        text = text[:-2]
    return text


def restart_policy() -> docker.ServiceTaskSpecRestartPolicyArgs:
    # Every field: a partly filled block shows a diff on every preview (the rest reads back).
    return docker.ServiceTaskSpecRestartPolicyArgs(
        condition="any", delay="5s", max_attempts=0, window="0s"
    )


def update_policy(order: str, monitor: int, delay: int = 0) -> docker.ServiceUpdateConfigArgs:
    """One task at a time, `delay` seconds between two; a task that fails its health check
    within `monitor` seconds rolls the whole service back (Swarm's own rollback: `up` then fails
    with the reason)."""
    return docker.ServiceUpdateConfigArgs(
        parallelism=1,
        delay=short_duration(delay),
        failure_action="rollback",
        monitor=short_duration(monitor),
        max_failure_ratio="0.0",
        order=order,
    )


def rollback_policy(order: str, monitor: int) -> docker.ServiceRollbackConfigArgs:
    return docker.ServiceRollbackConfigArgs(
        parallelism=1,
        delay="0s",
        failure_action="pause",
        monitor=short_duration(monitor),
        max_failure_ratio="0.0",
        order=order,
    )


def health(
    tests: Sequence[str], interval: int, timeout: int, retries: int, start_period: int
) -> docker.ServiceTaskSpecContainerSpecHealthcheckArgs:
    return docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
        tests=list(tests),
        interval=short_duration(interval),
        timeout=short_duration(timeout),
        retries=retries,
        start_period=short_duration(start_period),
    )


#: a task without a health check of its own (the app image's HEALTHCHECK probes FPM, which a
#: worker does not run)
NO_HEALTHCHECK = docker.ServiceTaskSpecContainerSpecHealthcheckArgs(tests=["NONE"])


def converge(cfg: StackConfig) -> docker.ServiceConvergeConfigArgs:
    """`up` waits until every task runs (and passed its health check), or fails."""
    return docker.ServiceConvergeConfigArgs(
        delay="7s", timeout=short_duration(cfg.swarm.converge_timeout)
    )


def attach(network: pulumi.Input[str]) -> list[docker.ServiceTaskSpecNetworksAdvancedArgs]:
    # By name, as the stand-ins verified against upstream (`id` is refused there for now).
    # Upstream's Read records the id instead: after a `pulumi refresh` the next `up` replaces
    # every service (README); `up` alone never does.
    return [docker.ServiceTaskSpecNetworksAdvancedArgs(name=network)]


def fingerprint(*values: Any) -> pulumi.Output[str]:
    """A short digest of declared values (plain, Inputs, args classes), for a step's triggers:
    it changes exactly when one of them does, and is unknown in a preview while one is."""
    text = pulumi.Output.json_dumps(_plain(list(values)), sort_keys=True)
    return text.apply(lambda t: hashlib.sha256(t.encode()).hexdigest()[:16])


def _plain(value: Any) -> Any:
    """Args classes as dicts of their set fields (Output.from_input would build them anew, and
    a deprecated field's constructor warns once more)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool, type(None), pulumi.Output)):
        return value
    return {k: _plain(v) for k, v in vars(value).items()}


def config_name(stack: str, name: str, content: str) -> str:
    """Docker configs and secrets are immutable: the content's hash is part of the name, so a
    change is a new object (a service update), and the old one goes after the update."""
    digest = hashlib.sha256(content.encode()).hexdigest()[:12]
    stem = name.replace(".", "-").replace("_", "-")
    return f"{stack}-{stem}-{digest}"


def file_config(
    cfg: StackConfig, name: str, target: str, content: str, parent: pulumi.Resource
) -> tuple[docker.ServiceConfig, docker.ServiceTaskSpecContainerSpecConfigArgs]:
    """A file for the tasks as a docker config, and its mount."""
    import base64

    obj = docker.ServiceConfig(
        name,
        name=config_name(cfg.name, name, content),
        data=base64.b64encode(content.encode()).decode(),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    mount = docker.ServiceTaskSpecContainerSpecConfigArgs(
        config_id=obj.id, config_name=obj.name, file_name=target, file_mode=0o444
    )
    return obj, mount


def shared_mount(
    cfg: StackConfig, volume: str, target: str, read_only: bool = False
) -> docker.ServiceTaskSpecContainerSpecMountArgs:
    """The shared volume on whichever node the task runs: the local driver with the options
    of swarm.storage (NFS), created by each node's engine on first use."""
    assert cfg.swarm.storage is not None  # config validation requires it
    return docker.ServiceTaskSpecContainerSpecMountArgs(
        type="volume",
        source=volume,
        target=target,
        read_only=read_only,
        volume_options=docker.ServiceTaskSpecContainerSpecMountVolumeOptionsArgs(
            driver_name="local", driver_options=shared_options(cfg, volume)
        ),
    )


def shared_options(cfg: StackConfig, volume: str) -> dict[str, str]:
    """swarm.storage's options; a bind (type none) gets a directory per volume under device."""
    assert cfg.swarm.storage is not None
    opts = dict(cfg.swarm.storage.driver_options)
    suffix = volume.removeprefix(f"{cfg.name}-")
    opts["device"] = f"{opts['device'].rstrip('/')}/{suffix}"
    return opts


def pinned(name: str, image: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """`image` by its digest (pulled on the manager): a service declared by tag would be pinned
    by the engine's client on create (`name:tag@sha256:…`), and every preview would then show a
    diff; by digest, every node also runs exactly the same image."""
    pulled = docker.RemoteImage(
        name, name=image, keep_locally=True, opts=pulumi.ResourceOptions(parent=parent)
    )
    return pulled.repo_digest
