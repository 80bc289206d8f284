"""Database: MySQL on the internal network only (no host port), health-checked; optional Redis."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from .. import commands
from ..config import StackConfig
from ..core import roles
from ..core.common import attach, healthcheck, labels


class Database(pulumi.ComponentResource):
    host: pulumi.Output[str]
    container_name: pulumi.Output[str]
    redis_name: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        network: pulumi.Input[str],
        volume: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        db = cfg.database
        image = docker.RemoteImage("mysql", name=db.image, keep_locally=True, opts=child)
        envs = pulumi.Output.all(
            *[pulumi.Output.concat(k, "=", v) for k, v in roles.mysql_env(cfg).items()]
        )
        mysql = docker.Container(
            "mysql",
            name=cfg.container("mysql"),
            image=image.image_id,
            envs=envs,
            networks_advanced=attach(network, "mysql"),
            volumes=[
                docker.ContainerVolumeArgs(volume_name=volume, container_path="/var/lib/mysql")
            ],
            healthcheck=healthcheck(commands.db_healthcheck(), **roles.MYSQL_HEALTH.kw()),
            # Dependents are created only once MySQL answers, not merely once it started.
            wait=True,
            wait_timeout=180,
            restart="unless-stopped",
            destroy_grace_seconds=roles.MYSQL_STOP_SECONDS,
            labels=labels(cfg, "mysql"),
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["envs"]),
        )
        self.container_name = mysql.name
        self.host = mysql.name

        self.redis_name = None
        if cfg.redis.enabled:
            redis_image = docker.RemoteImage(
                "redis", name=cfg.redis.image, keep_locally=True, opts=child
            )
            redis = docker.Container(
                "redis",
                name=cfg.container("redis"),
                image=redis_image.image_id,
                networks_advanced=attach(network, "redis"),
                healthcheck=healthcheck(commands.redis_healthcheck(), **roles.REDIS_HEALTH.kw()),
                wait=True,
                wait_timeout=60,
                restart="unless-stopped",
                labels=labels(cfg, "redis"),
                opts=child,
            )
            self.redis_name = redis.name
        self.register_outputs({"host": self.host, "redis": self.redis_name})
