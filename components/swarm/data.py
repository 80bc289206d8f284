"""SwarmData: MySQL (and Redis) as single-task services pinned to the labelled data node, where
their volumes live; reached by service name on the overlay only (no published port)."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from .. import commands
from ..config import StackConfig
from ..core import roles
from . import services


class SwarmData(pulumi.ComponentResource):
    host: pulumi.Output[str]
    services: dict[str, docker.Service]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        network: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:SwarmData", name, None, opts)
        key, value = cfg.swarm.data_label.split("=", 1)
        on_data_node = docker.ServiceTaskSpecPlacementArgs(
            constraints=[f"node.labels.{key}=={value}"], max_replicas=0
        )
        db = cfg.database
        env = roles.mysql_env(cfg)
        mysql = self._service(
            cfg,
            "mysql",
            services.pinned("mysql", db.image, self),
            env,
            network,
            on_data_node,
            health=services.health(commands.db_healthcheck(), **roles.MYSQL_HEALTH.kw()),
            mounts=[
                # Node-local on purpose: the data node's disk (pinned there by the constraint).
                docker.ServiceTaskSpecContainerSpecMountArgs(
                    type="volume", source=cfg.db_volume, target="/var/lib/mysql"
                )
            ],
            grace=roles.MYSQL_STOP_SECONDS,
        )
        self.services = {"mysql": mysql}
        if cfg.redis.enabled:
            self.services["redis"] = self._service(
                cfg,
                "redis",
                services.pinned("redis", cfg.redis.image, self),
                {},
                network,
                on_data_node,
                health=services.health(commands.redis_healthcheck(), **roles.REDIS_HEALTH.kw()),
                mounts=[],
                grace=10,
            )
        self.host = mysql.name
        self.register_outputs({"host": self.host})

    def _service(
        self,
        cfg: StackConfig,
        role: str,
        image: pulumi.Input[str],
        env: dict,
        network: pulumi.Input[str],
        placement: docker.ServiceTaskSpecPlacementArgs,
        health: docker.ServiceTaskSpecContainerSpecHealthcheckArgs,
        mounts: list,
        grace: int,
    ) -> docker.Service:
        return docker.Service(
            role,
            name=cfg.container(role),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=image,
                    env=env or None,
                    mounts=mounts or None,
                    healthcheck=health,
                    stop_signal="SIGTERM",
                    stop_grace_period=services.short_duration(grace),
                ),
                networks_advanceds=services.attach(network),
                placement=placement,
                restart_policy=services.restart_policy(),
            ),
            mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1)),
            # One task ever: the old one stops before a new one opens the same files.
            update_config=services.update_policy("stop-first", monitor=10),
            rollback_config=services.rollback_policy("stop-first", monitor=10),
            endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr"),
            converge_config=services.converge(cfg),
            opts=pulumi.ResourceOptions(parent=self),
        )
