"""The swarm release's cluster-wide steps: pulumi-command resources on the manager, chained
with `depends_on` and triggered by the digest, around the rollout (the app service's update):

  before: public-init -> public-next -> contract -> migrate -> cache-clear -> canary
  after:  rollout-wait -> fleet-check -> switch -> (workers' rollout) -> workers-restart
          -> retention

`migrate` runs exactly once per release, before the rollout: old tasks then run on the new
schema (README: migrations must be backward compatible for one release). The canary runs the
new build once as a task would and probes it: a build that cannot serve itself fails `up` with
its own output before the service is touched (Swarm's rollback stays for what only shows on a
node).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_command as command

from .. import commands
from ..commands import swarm
from ..commands.swarm import secret_env
from ..config import StackConfig
from ..core import files
from ..core.engines import deploy_engine
from . import services

#: how often rollout-wait asks Swarm how the rollout goes
ROLLOUT_POLL_SECONDS = 2


def step(
    parent: pulumi.Resource,
    name: str,
    create: pulumi.Input[str],
    triggers: Sequence[pulumi.Input[str]],
    after: Sequence[pulumi.Resource],
    stdin: pulumi.Input[str] | None = None,
) -> command.local.Command:
    return command.local.Command(
        name,
        create=create,
        stdin=stdin,
        triggers=list(triggers),
        # Output is shown when a step fails; nothing is streamed into the logs.
        logging=command.local.Logging.NONE,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)),
    )


def rollout_key(
    app_id: pulumi.Input[str], app_spec: pulumi.Input[str], canary: command.local.Command
) -> pulumi.Output[str]:
    """What one rollout of the app service is: the service, its declared spec (a change updates
    it) and the canary before it. A release replaces the canary, so the `up` after one that
    Swarm rolled back has a new key too: that `up` updates the service back to the declared
    inputs (the state holds the failed ones), and Swarm replaces every task again."""
    return services.fingerprint(app_id, app_spec, canary.id)


class BeforeRollout(pulumi.ComponentResource):
    canary: command.local.Command
    done: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        build: pulumi.Output[str],
        env: pulumi.Output[Mapping[str, str]],
        secrets: Mapping[str, str],
        public_done: pulumi.Resource,
        after: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:BeforeRollout", name, None, opts)
        host, net, user = deploy_engine(cfg), cfg.network_name, cfg.web_user
        web_user = f"{user.uid}:{user.gid}"
        stdin = pulumi.Output.secret(secret_env(secrets))
        public = f"{cfg.name}-public"
        nxt = step(
            self,
            "public-next",
            build.apply(lambda b: commands.script(swarm.public(host, b, public, "next",
                                                               files.public_dir(b)))),
            [build],
            [public_done],
        )  # fmt: skip
        contract = step(
            self,
            "contract",
            build.apply(
                lambda b: commands.script(
                    swarm.contract(
                        host,
                        b,
                        net,
                        cfg.web.app_root,
                        user.name,
                        user.uid,
                        user.gid,
                    )
                )
            ),
            [build],
            [*after, nxt],
        )
        previous: pulumi.Resource = contract

        def artisan_step(name: str, build_argv, after: pulumi.Resource) -> command.local.Command:
            """A one-shot artisan command of the new build, the secret env on stdin."""
            create = pulumi.Output.all(build, env).apply(
                lambda a: commands.script(build_argv(host, a[0], net, a[1], web_user))
            )
            return step(self, name, create, [build], [after], stdin)

        if cfg.release.migrate and "migrate" not in cfg.release.skip:
            previous = artisan_step("migrate", swarm.migrate, previous)
        clear = artisan_step("cache-clear", swarm.cache_clear, previous)
        health = cfg.health
        web_command = swarm.web_command(cfg.web)
        canary = step(
            self,
            "canary",
            pulumi.Output.all(build, env).apply(
                lambda a: commands.script(
                    swarm.canary(
                        host, a[0], net, a[1], user.uid, user.gid, web_command,
                        url=cfg.web.app_url("127.0.0.1", health.path),
                        expected_status=health.expected_status, build_field=health.build_field,
                        build=a[0], retries=health.retries, interval=health.interval,
                        timeout=health.timeout, script=f"{cfg.web.app_root}/public/index.php",
                    )
                )
            ),
            [build],
            [clear],
            pulumi.Output.secret(swarm.bundle(swarm.canary_files(secrets))),
        )  # fmt: skip
        self.canary = canary
        self.done = [canary]
        self.register_outputs({})


class AfterRollout(pulumi.ComponentResource):
    fleet: command.local.Command
    switch: command.local.Command

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        build: pulumi.Output[str],
        app: pulumi.Resource,
        app_id: pulumi.Input[str],
        rollout: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`rollout` changes with every update of the app service (rollout_key): its wait and
        fleet check run after each one, not only a new build's."""
        super().__init__("laravel-stack:index:AfterRollout", name, None, opts)
        host, net = deploy_engine(cfg), cfg.network_name
        health = cfg.health
        # The service's converge may return between two tasks (every replica runs then, one of
        # them still old): Swarm's own account of the rollout decides (rollout_wait.sh).
        self.rollout = step(
            self,
            "rollout-wait",
            build.apply(
                lambda b: commands.script(
                    swarm.rollout_wait(host, cfg.container("app"), b,
                                       cfg.swarm.converge_timeout, ROLLOUT_POLL_SECONDS)
                )
            ),
            [build, rollout],
            [app],
        )  # fmt: skip
        self.fleet = step(
            self,
            "fleet-check",
            build.apply(
                lambda b: commands.script(
                    swarm.fleet_check(
                        host, b, net, cfg.container("app"), cfg.web.replicas,
                        cfg.web.app_url("{task}", health.path),
                        expected_status=health.expected_status,
                        build_field=health.build_field, build=b, retries=health.retries,
                        interval=health.interval, timeout=health.timeout,
                        script=f"{cfg.web.app_root}/public/index.php",
                    )
                )
            ),
            [build, rollout],
            [self.rollout],
        )  # fmt: skip
        public = f"{cfg.name}-public"
        self.switch = step(
            self,
            "switch",
            build.apply(lambda b: commands.script(swarm.public(host, b, public, "switch",
                                                               files.public_dir(b)))),
            [build, app_id],
            [self.fleet],
        )  # fmt: skip
        self.register_outputs({"fleet": self.fleet.stdout})


class Finish(pulumi.ComponentResource):
    """After the workers' rollout: workers still on old code are told to restart; old builds'
    public/ directories go (release.keep)."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        build: pulumi.Output[str],
        env: pulumi.Output[Mapping[str, str]],
        secrets: Mapping[str, str],
        after: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:Finish", name, None, opts)
        host, net, user = deploy_engine(cfg), cfg.network_name, cfg.web_user
        previous = list(after)
        if cfg.queue.enabled and "workers-restart" not in cfg.release.skip:
            restart = step(
                self,
                "workers-restart",
                pulumi.Output.all(build, env).apply(
                    lambda a: commands.script(
                        swarm.queue_restart(host, a[0], net, a[1], f"{user.uid}:{user.gid}")
                    )
                ),
                [build],
                previous,
                pulumi.Output.secret(secret_env(secrets)),
            )
            previous = [restart]
        public = f"{cfg.name}-public"
        self.retention = step(
            self,
            "retention",
            build.apply(lambda b: commands.script(swarm.public(host, b, public, "prune",
                                                               str(cfg.release.keep)))),
            [build],
            previous,
        )  # fmt: skip
        self.register_outputs({"retention": self.retention.stdout})
