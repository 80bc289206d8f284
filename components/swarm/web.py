"""SwarmWeb: the app as a replicated service whose every task proves its build before it gets
traffic, and nginx on every node in front of them.

- *app*: each task starts through its release chain (task_start.sh: caches cleared, rebuilt as
  the web user with the task's env, then a new PHP-FPM master or Octane server, whose OPcache
  starts empty: no reload step); its health check is the chain's probe (the served build must
  be the deployed digest), and until it passes the task is not in `tasks.<app>` DNS, so nginx
  sends it nothing. That holds for a task Swarm reschedules after a node loss too. A rollout
  replaces one task at a time (rollout_order) and rolls the service back when a new task fails
  its check.
- *nginx*: a global service (one task per node, each publishing the entry port on its node in
  host mode, so any node answers without Swarm's routing mesh), never changed by a release.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_docker as docker

from ..commands.swarm import SECRET_ENV_FILE, health_shell, task_command, web_command
from ..config import StackConfig
from ..core import roles
from . import services
from .cluster import ClusterBase

#: seconds a stopping app task keeps serving before its server gets the stop signal
DRAIN_SECONDS = 3
#: an app task builds its caches before its server starts: its health check waits longer
START_PERIOD = 60


def app_health(cfg: StackConfig) -> docker.ServiceTaskSpecContainerSpecHealthcheckArgs:
    """The chain's probe against the task's own server (FastCGI to FPM, HTTP to Octane),
    requiring the task's own APP_BUILD (the deployed digest): a task serving anything else never
    becomes healthy."""
    shell = health_shell(
        cfg.web.app_url("127.0.0.1", cfg.health.path),
        expected_status=cfg.health.expected_status,
        build_field=cfg.health.build_field,
        timeout=cfg.health.timeout,
        script=f"{cfg.web.app_root}/public/index.php",
    )
    return services.health(
        ["CMD-SHELL", shell],
        **roles.app_health(cfg, start_period=START_PERIOD).kw(),
    )


def monitor_seconds() -> int:
    """The rollout's monitor window: at least retries x interval of the health check (a new
    task failing it within the window rolls the service back), plus a margin."""
    return roles.APP_HEALTH_RETRIES * roles.APP_HEALTH_INTERVAL + 4


# Seconds between one app task's update and the next. Without a pause a failed task can take
# the next one down with it: Swarm's updater moves on as soon as a new task leaves its start,
# failed or not, and its slots loop then picks at random between the failure (roll back) and
# the idle worker (update the next task; swarmkit's updater.go). With stop-first and two
# replicas that left no healthy task until the rollback was done (the e2e saw 80 s of failed
# requests). A pausing worker is not ready, so the failure wins. The pause lets the provider's
# converge return between two tasks: release.AfterRollout's rollout-wait waits for Swarm.
UPDATE_DELAY = 5


def rollout_order(replicas: int) -> str:
    """One app task: start its successor first (else nothing serves meanwhile). Several: stop
    one, then start its successor, one at a time, while the others serve (the stopping one
    drains first). Start-first would need room: with one task per node every node of a spread
    service is full, and Swarm never places the new task (the rollout hangs); with room, it
    places it beside the old one by its tie-break (fewest tasks overall), and a few rollouts pile
    every task onto one node. Stop-first keeps them spread: the freed node gets the successor."""
    return "start-first" if replicas == 1 else "stop-first"


class SwarmWeb(pulumi.ComponentResource):
    app: docker.Service
    app_spec: pulumi.Output[str]
    nginx: docker.Service

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        build: pulumi.Input[str],
        env: dict[str, pulumi.Input[str]],
        base: ClusterBase,
        storage_volume: str,
        after: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:SwarmWeb", name, None, opts)
        web, user = cfg.web, cfg.web_user
        health = app_health(cfg)
        monitor, order = monitor_seconds(), rollout_order(web.replicas)
        spread = docker.ServiceTaskSpecPlacementArgs(max_replicas=cfg.swarm.max_per_node)
        app_args: dict[str, Any] = dict(
            name=cfg.container("app"),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=build,
                    commands=task_command(user.uid, user.gid, web_command(web)),
                    env={
                        **env,
                        "LARAVEL_STACK_SECRET_ENV": SECRET_ENV_FILE,
                        # nginx's resolver caches tasks.<app> for 1 s (task_start.sh)
                        "LARAVEL_STACK_DRAIN_SECONDS": str(DRAIN_SECONDS),
                    },
                    configs=base.task_files,
                    secrets=base.task_secrets,
                    mounts=[services.shared_mount(cfg, storage_volume, f"{web.app_root}/storage")],
                    healthcheck=health,
                    stop_signal=roles.app_stop_signal(
                        web.runtime
                    ),  # task_start.sh forwards it after the drain
                    stop_grace_period=services.short_duration(web.destroy_grace_seconds),
                ),
                networks_advanceds=services.attach(base.network.name),
                placement=spread,
                restart_policy=services.restart_policy(),
            ),
            mode=docker.ServiceModeArgs(
                replicated=docker.ServiceModeReplicatedArgs(replicas=web.replicas)
            ),
            update_config=services.update_policy(order, monitor, UPDATE_DELAY),
            rollback_config=services.rollback_policy(order, monitor),
            endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr"),
            converge_config=services.converge(cfg),
        )
        self.app = docker.Service(
            "app", **app_args, opts=pulumi.ResourceOptions(parent=self, depends_on=after)
        )
        # Any update of the service makes Swarm replace every task: upstream sends the env in Go
        # map order, so Swarm sees a new spec even when nothing else changed. What triggers
        # release.AfterRollout's steps, so that `up` waits for each such rollout.
        self.app_spec = services.fingerprint(app_args)
        self.nginx = docker.Service(
            "nginx",
            name=cfg.container("web"),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=services.pinned("nginx", web.nginx_image, self),
                    configs=base.nginx_files,
                    mounts=[
                        services.shared_mount(
                            cfg, roles.public_volume(cfg), f"{web.app_root}/public", True
                        ),
                        services.shared_mount(cfg, storage_volume, f"{web.app_root}/storage", True),
                    ],
                    stop_signal=roles.NGINX_STOP_SIGNAL,
                    stop_grace_period=services.short_duration(web.destroy_grace_seconds),
                ),
                networks_advanceds=services.attach(base.network.name),
                restart_policy=services.restart_policy(),
            ),
            mode=docker.ServiceModeArgs(global_=True),
            # The node's port is held by the running task: a new one can start only after it.
            update_config=services.update_policy("stop-first", monitor=5),
            rollback_config=services.rollback_policy("stop-first", monitor=5),
            endpoint_spec=docker.ServiceEndpointSpecArgs(
                mode="dnsrr",
                # The entry port on every node, held by that node's task (no routing mesh).
                ports=[
                    docker.ServiceEndpointSpecPortArgs(
                        target_port=80,
                        published_port=web.port,
                        publish_mode="host",
                        protocol="tcp",
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[base.public_volume]),
        )
        self.register_outputs({"app": self.app.name, "nginx": self.nginx.name})
