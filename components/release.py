"""The release chain: one ordered list of named steps, each a command resource.

Every step is triggered by the image digest (and the web container, whose env `config:cache`
bakes), depends explicitly on the step before it, and fails `pulumi up` with its output when
its command exits non-zero.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from . import commands
from .commands import Argv
from .config import StackConfig


@dataclass(frozen=True)
class Target:
    """Where a release runs, as plain values (the Pulumi outputs are resolved first)."""

    cfg: StackConfig
    container: str  # the web workers' container: migrations, OPcache, health run here
    probe_url: str
    build: str  # the deployed repo digest

    @property
    def host(self) -> str:
        return self.cfg.docker.host

    @property
    def user(self) -> str:
        return self.cfg.web_user.name


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    argv: Callable[[Target], list[Argv]]


def _ownership(t: Target) -> list[Argv]:
    u = t.cfg.web_user
    root = t.cfg.web.app_root
    return [
        commands.fix_ownership(t.host, t.container, root, u.uid, u.gid),
        *commands.check_writable(t.host, t.container, root, t.user),
    ]


def _health(t: Target) -> list[Argv]:
    h = t.cfg.health
    return [
        commands.health_probe(
            t.host,
            t.container,
            t.user,
            t.probe_url,
            expected_status=h.expected_status,
            build_field=h.build_field,
            build=t.build,
            retries=h.retries,
            interval=h.interval,
            timeout=h.timeout,
        )
    ]


STEPS: tuple[Step, ...] = (
    Step(
        "ownership",
        "storage/ and bootstrap/cache/ owned and writable by the web user",
        _ownership,
    ),
    Step(
        "migrate",
        # config:clear first: a config cache baked into the image would point the migrations
        # at the build machine's database instead of the container's env.
        "run database migrations with the container's own environment",
        lambda t: [
            commands.artisan(t.host, t.container, t.user, "config:clear"),
            commands.migrate(t.host, t.container, t.user),
        ],
    ),
    Step(
        "cache-clear",
        "clear config, route, view, event and application caches",
        lambda t: commands.cache_clear(t.host, t.container, t.user),
    ),
    Step(
        "opcache-reset",
        "reset OPcache where the web workers live (FPM reload / octane:reload)",
        lambda t: [commands.opcache_reset(t.host, t.container, t.user, t.cfg.web.runtime)],
    ),
    Step(
        "cache-rebuild",
        "rebuild config, route, view and event caches with the production env",
        lambda t: commands.cache_rebuild(t.host, t.container, t.user),
    ),
    Step(
        "workers-restart",
        "make queue workers restart on the new code",
        lambda t: [commands.queue_restart(t.host, t.container, t.user)],
    ),
    Step("health", "HTTP health check that proves the deployed build is served", _health),
)


def step_script(step: Step, target: Target) -> str:
    return commands.script(*step.argv(target))


class ReleaseChain(pulumi.ComponentResource):
    steps: list[command.local.Command]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        build: pulumi.Input[str],
        container: pulumi.Output[str],
        container_id: pulumi.Input[str],
        probe_url: str,
        after: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:ReleaseChain", name, None, opts)
        target = pulumi.Output.all(container, build).apply(
            lambda a: Target(cfg=cfg, container=a[0], probe_url=probe_url, build=a[1])
        )
        wanted = set(cfg.steps())
        self.steps = []
        previous: list[pulumi.Resource] = list(after)
        for step in STEPS:
            if step.name not in wanted:
                continue
            resource = command.local.Command(
                step.name,
                create=target.apply(functools.partial(step_script, step)),
                # A new digest or a recreated web container (new env) re-runs the whole chain.
                triggers=[build, container_id],
                # Output is shown when a step fails; nothing is streamed into the logs.
                logging=command.local.Logging.NONE,
                opts=pulumi.ResourceOptions(parent=self, depends_on=previous),
            )
            self.steps.append(resource)
            previous = [resource]
        self.register_outputs({"steps": [s.stdout for s in self.steps]})
