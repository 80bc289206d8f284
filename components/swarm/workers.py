"""SwarmWorkers: queue workers as a replicated service and the scheduler as exactly one task,
from the deployed digest, each starting through the task chain (caches from its own env) and
running its command as the web user."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from ..commands.swarm import SECRET_ENV_FILE, task_command
from ..config import StackConfig
from ..core.roles import WORKER_STOP_SIGNAL, worker_roles
from . import services
from .cluster import ClusterBase


class SwarmWorkers(pulumi.ComponentResource):
    services: dict[str, docker.Service]

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
        super().__init__("laravel-stack:index:SwarmWorkers", name, None, opts)
        self.services = {}
        user = cfg.web_user
        for worker in worker_roles(cfg):
            role, argv, replicas = worker.role, worker.argv, worker.replicas
            # Queue workers: a new one may start before an old one finishes its job. The
            # scheduler: the old task stops before the new one starts (no minute runs twice).
            order = "start-first" if role == "queue" else "stop-first"
            self.services[role] = docker.Service(
                role,
                name=cfg.container(role),
                task_spec=docker.ServiceTaskSpecArgs(
                    container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                        image=build,
                        # As the web user even if the image runs as root: a worker's files
                        # (logs, caches) must stay writable for FPM.
                        commands=task_command(user.uid, user.gid, argv, web_user=True),
                        env={**env, "LARAVEL_STACK_SECRET_ENV": SECRET_ENV_FILE},
                        configs=base.task_files,
                        secrets=base.task_secrets,
                        mounts=[
                            services.shared_mount(
                                cfg, storage_volume, f"{cfg.web.app_root}/storage"
                            )
                        ],
                        healthcheck=services.NO_HEALTHCHECK,
                        stop_signal=WORKER_STOP_SIGNAL,
                        stop_grace_period=services.short_duration(cfg.swarm.stop_grace_seconds),
                    ),
                    networks_advanceds=services.attach(base.network.name),
                    restart_policy=services.restart_policy(),
                ),
                mode=docker.ServiceModeArgs(
                    replicated=docker.ServiceModeReplicatedArgs(replicas=replicas)
                ),
                update_config=services.update_policy(order, monitor=5),
                rollback_config=services.rollback_policy(order, monitor=5),
                endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr"),
                converge_config=services.converge(cfg),
                opts=pulumi.ResourceOptions(parent=self, depends_on=after),
            )
        self.register_outputs({"services": {r: s.name for r, s in self.services.items()}})
