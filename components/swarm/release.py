"""The Swarm release chain, whole: cluster-wide steps on the manager (pulumi-command resources
chained with `depends_on`, triggered by the digest) around what Swarm does itself, the rollout
of the app service and then of the workers' services.

`migrate` runs exactly once per release, before the rollout: old tasks then run on the new
schema (migrations must be backward compatible for one release). The canary runs the new build
once as a task would and probes it: a build that cannot serve itself fails `up` with its own
output before the service is touched (Swarm's rollback stays for what only shows on a node).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_command as command

from .. import commands
from ..commands import Argv, Engine, swarm
from ..commands.swarm import secret_env
from ..config import StackConfig
from ..core import files
from ..core.chain import Phase, PhaseComponent, Step, declare
from ..core.engines import deploy_engine
from ..core.roles import public_volume
from . import services

#: how often rollout-wait asks Swarm how the rollout goes
ROLLOUT_POLL_SECONDS = 2


@dataclass(frozen=True)
class Release:
    """What the swarm release's commands are made of, as plain values."""

    cfg: StackConfig
    build: str  # the deployed repo digest
    env: Mapping[str, str] = field(default_factory=dict)  # the app's plain env (with_env steps)

    @property
    def host(self) -> Engine:
        return deploy_engine(self.cfg)

    @property
    def net(self) -> str:
        return self.cfg.network_name

    @property
    def web_user(self) -> str:
        return f"{self.cfg.web_user.uid}:{self.cfg.web_user.gid}"

    def probe(self, url: str) -> dict[str, object]:
        h, web = self.cfg.health, self.cfg.web
        return {"url": url, "expected_status": h.expected_status, "build_field": h.build_field,
                "build": self.build, "retries": h.retries, "interval": h.interval,
                "timeout": h.timeout, "script": f"{web.app_root}/public/index.php"}  # fmt: skip


def _public(r: Release, *args: str) -> list[Argv]:
    return [swarm.public(r.host, r.build, public_volume(r.cfg), *args)]


def _contract(r: Release) -> list[Argv]:
    u = r.cfg.web_user
    return [swarm.contract(r.host, r.build, r.net, r.cfg.web.app_root, u.name, u.uid, u.gid)]


def _canary(r: Release) -> list[Argv]:
    u, web = r.cfg.web_user, r.cfg.web
    probe = r.probe(web.app_url("127.0.0.1", r.cfg.health.path))
    return [swarm.canary(r.host, r.build, r.net, r.env, u.uid, u.gid, swarm.web_command(web),
                         **probe)]  # type: ignore[arg-type]  # fmt: skip


def _fleet_check(r: Release) -> list[Argv]:
    c = r.cfg
    probe = r.probe(c.web.app_url("{task}", c.health.path))
    return [swarm.fleet_check(r.host, r.build, r.net, c.container("app"), c.web.replicas,
                              **probe)]  # type: ignore[arg-type]  # fmt: skip


#: the chain, in order; `rollout` is the app service's update (rollout_key), `app` the service:
#: what re-runs the steps that check or follow it
PHASES: tuple[Phase[Release], ...] = (
    Phase(
        "before-rollout",
        "once, on the manager, before the app service changes",
        "laravel-stack:index:BeforeRollout",
        (
            Step(
                "public-next",
                "the new build's public/ into the shared public volume, beside the live one",
                lambda r: _public(r, "next", files.public_dir(r.build)),
            ),
            Step(
                "contract",
                "the new image provides what the stack needs (a one-shot of it, as root)",
                _contract,
            ),
            Step(
                "migrate",
                "run database migrations once, in a one-shot of the new build (the old tasks "
                "serve on the new schema until the rollout)",
                lambda r: [swarm.migrate(r.host, r.build, r.net, r.env, r.web_user)],
                with_env=True,
                stdin="secret-env",
                when=lambda c: c.release.migrate and "migrate" not in c.release.skip,
            ),
            Step(
                "cache-clear",
                "clear the application cache (the cache store the tasks share)",
                lambda r: [swarm.cache_clear(r.host, r.build, r.net, r.env, r.web_user)],
                with_env=True,
                stdin="secret-env",
            ),
            Step(
                "canary",
                "the new build once as a task runs it, probed: a build that cannot serve "
                "itself stops here, before any task changes",
                _canary,
                with_env=True,
                stdin="canary-files",
            ),
        ),
    ),
    Phase(
        "app-rollout",
        "Swarm updates the app service one task at a time: each task clears and rebuilds its "
        "caches before its server starts (OPcache is new with it) and gets traffic only once "
        "its health check proves the deployed build; a failed task rolls the service back",
    ),
    Phase(
        "after-rollout",
        "once Swarm's rollout of the app service is done",
        "laravel-stack:index:AfterRollout",
        (
            Step(
                "rollout-wait",
                "Swarm's own account of the rollout says it completed (not rolled back)",
                lambda r: [
                    swarm.rollout_wait(
                        r.host,
                        r.cfg.container("app"),
                        r.build,
                        r.cfg.swarm.converge_timeout,
                        ROLLOUT_POLL_SECONDS,
                    )
                ],
                also_triggered_by=("rollout",),
            ),
            Step(
                "fleet-check",
                "every app task, reached one by one, serves the deployed build",
                _fleet_check,
                also_triggered_by=("rollout",),
            ),
            Step(
                "switch",
                "nginx serves the new build's public/ (the shared volume's pointer)",
                lambda r: _public(r, "switch", files.public_dir(r.build)),
                also_triggered_by=("app",),
            ),
        ),
        outputs={"fleet": "fleet-check"},
    ),
    Phase(
        "workers-rollout",
        "Swarm updates the queue workers' and the scheduler's services to the new build",
    ),
    Phase(
        "finish",
        "after the workers' rollout",
        "laravel-stack:index:Finish",
        (
            Step(
                "workers-restart",
                "workers still on old code finish their job and restart (queue:restart)",
                lambda r: [swarm.queue_restart(r.host, r.build, r.net, r.env, r.web_user)],
                with_env=True,
                stdin="secret-env",
                when=lambda c: c.queue.enabled and "workers-restart" not in c.release.skip,
            ),
            Step(
                "retention",
                "remove the public/ of builds beyond release.keep",
                lambda r: _public(r, "prune", str(r.cfg.release.keep)),
            ),
        ),
        outputs={"retention": "retention"},
    ),
)
PHASE = {p.name: p for p in PHASES}


def rollout_key(
    app_id: pulumi.Input[str], app_spec: pulumi.Input[str], canary: command.local.Command
) -> pulumi.Output[str]:
    """What one rollout of the app service is: the service, its declared spec (a change updates
    it) and the canary before it. A release replaces the canary, so the `up` after one that
    Swarm rolled back has a new key too: that `up` updates the service back to the declared
    inputs (the state holds the failed ones), and Swarm replaces every task again."""
    return services.fingerprint(app_id, app_spec, canary.id)


class SwarmRelease:
    """Declares the chain's phases as they come in the stack: each after what it waits for."""

    def __init__(
        self,
        cfg: StackConfig,
        build: pulumi.Output[str],
        env: pulumi.Output[Mapping[str, str]],
        secrets: Mapping[str, str],
        opts: pulumi.ResourceOptions,
    ):
        self.cfg, self.opts = cfg, opts
        self.plain = build.apply(lambda b: Release(cfg, b))
        self.with_env = pulumi.Output.all(build, env).apply(lambda a: Release(cfg, a[0], a[1]))
        self.stdin = {
            "secret-env": pulumi.Output.secret(secret_env(secrets)),
            "canary-files": pulumi.Output.secret(swarm.bundle(swarm.canary_files(secrets))),
        }
        self.build = build
        self.triggers: dict[str, pulumi.Input[str]] = {}

    def create(self, step: Step[Release], _: object = None) -> pulumi.Output[str]:
        release = self.with_env if step.with_env else self.plain
        return release.apply(lambda r: commands.script(*step.argv(r)))

    def phase(
        self,
        name: str,
        after: list[pulumi.Resource],
        also_after: Mapping[str, list[pulumi.Resource]] | None = None,
        **triggers: pulumi.Input[str],
    ) -> PhaseComponent:
        self.triggers.update(triggers)

        def steps(parent: PhaseComponent, kept: list[Step[Release]]) -> dict:
            return declare(parent, kept, self.create, [self.build], after, stdin=self.stdin,
                           also_after=also_after, extra_triggers=self.triggers)  # fmt: skip

        return PhaseComponent(PHASE[name], self.cfg, steps, opts=self.opts)
