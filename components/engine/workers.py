"""Workers: queue worker replicas and the scheduler, from the same digest as the web runtime."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from .. import commands
from ..config import StackConfig
from ..core.common import attach, env_list, healthcheck, labels, storage_mount
from ..core.roles import WORKER_STOP_SIGNAL, worker_roles


class Workers(pulumi.ComponentResource):
    containers: dict[str, docker.Container]  # role -> container

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        image_id: pulumi.Input[str],
        build: pulumi.Output[str],
        env: dict[str, pulumi.Input[str]],
        network: pulumi.Input[str],
        storage_volume: pulumi.Input[str],
        after: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:Workers", name, None, opts)
        # One container per queue worker, each with its number; one scheduler.
        roles: list[tuple[str, list[str]]] = []
        for worker in worker_roles(cfg):
            if worker.role == "queue":
                roles += [(f"queue-{i}", worker.argv) for i in range(1, worker.replicas + 1)]
            else:
                roles.append((worker.role, worker.argv))
        self.containers = {}
        for role, argv in roles:
            queue = role.startswith("queue-")
            self.containers[role] = docker.Container(
                cfg.container(role),
                # Queue workers are auto-named (new name per release): new ones start beside the
                # old ones, which then finish their job and stop. One scheduler at a time: it
                # keeps its name and is replaced delete-first, so no minute's tasks run twice.
                name=None if queue else cfg.container(role),
                image=image_id,
                command=commands.worker_command(argv),
                user=cfg.web_user.name,  # never root: caches they write stay writable for FPM
                envs=env_list(env),
                networks_advanced=attach(network, role),
                volumes=[storage_mount(cfg, storage_volume)],
                # queue:restart makes workers exit; the restart policy brings them back on new code.
                restart="unless-stopped",
                stop_signal=WORKER_STOP_SIGNAL,
                # Docker's init as PID 1 forwards the SIGTERM: `artisan schedule:work` as PID 1
                # ignores it and every release would wait destroy_grace_seconds for a SIGKILL.
                init=True,
                # The image's HEALTHCHECK probes FPM, which does not run here. The timings mean
                # nothing with NONE, but a zero one would be read back as the image's.
                healthcheck=healthcheck(
                    ["NONE"], interval=30, timeout=30, retries=3, start_period=1
                ),
                destroy_grace_seconds=cfg.web.destroy_grace_seconds,
                labels=labels(cfg, role.split("-")[0], build),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    additional_secret_outputs=["envs"],
                    delete_before_replace=not queue,
                    # A release's workers start once its web container exists (healthy, with
                    # web.wait_healthy), and Docker fills a new shared storage volume once, not
                    # in a race between them.
                    depends_on=after,
                ),
            )
        self.register_outputs({"containers": [c.name for c in self.containers.values()]})
