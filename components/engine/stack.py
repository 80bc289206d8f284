"""EngineStack: the whole deployment, composed from one component per concern."""

from __future__ import annotations

import pulumi

from .. import commands
from ..config import StackConfig
from ..core.common import app_env
from ..core.engines import providers
from ..core.image import AppImage
from ..core.outputs import Stack
from ..core.public_init import PublicInit
from .database import Database
from .edge import TlsEdge
from .network import NetworkAndVolumes
from .release import ReleaseChain
from .web import WebRuntime
from .workers import Workers


class EngineStack(Stack):
    """The whole deployment on one Docker engine. (Its type token keeps the name it was first
    deployed with: a stack's resources keep their URNs.)"""

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("laravel-stack:index:LaravelStack", name, None, opts)
        # Two engines, as the field notes do it: the build engine (where `pulumi up` runs, or
        # image.build_host) builds and pushes; the deploy engine (docker.host) only pulls the
        # pushed digest and runs the containers and every release step. No source, no build on
        # the server.
        provider, build_provider = providers(self, cfg)
        child = pulumi.ResourceOptions(parent=self, providers={"docker": provider})

        image = AppImage("image", cfg, build_provider, opts=child)
        build = image.repo_digest
        infra = NetworkAndVolumes("infra", cfg, opts=child)
        db = Database("database", cfg, infra.network_name, infra.db_volume, opts=child)
        public = PublicInit(
            "public-init", cfg, build, image.image_id, infra.public_volume, opts=child
        )
        env = app_env(cfg, build, db.host)
        web = WebRuntime(
            "web",
            cfg,
            image.image_id,
            build,
            env,
            infra.network_name,
            infra.storage_volume,
            infra.public_volume,
            public_ready=public.done,
            opts=child,
        )
        edge = (
            TlsEdge("edge", cfg, infra.network_name, web.containers["web"], opts=child)
            if cfg.web.tls.on
            else None
        )
        workers = Workers(
            "workers",
            cfg,
            image.image_id,
            build,
            env,
            infra.network_name,
            infra.storage_volume,
            after=[web.primary],
            opts=child,
        )
        release = ReleaseChain(
            "release",
            cfg,
            build,
            web.worker_container,
            web.primary.id,
            web.entry_container,
            web.containers["web"].id,
            infra.public_volume,
            infra.releases.name,
            (web.direct_url, web.public_url, web.app_port),
            after=[
                *web.containers.values(),
                *workers.containers.values(),
                public.done,
                *([edge.container] if edge else []),
                *([infra.backups] if infra.backups else []),
            ],
            opts=child,
        )

        names: dict[str, pulumi.Input[str]] = {"mysql": db.container_name}
        if db.redis_name is not None:
            names["redis"] = db.redis_name
        for role, container in {**web.containers, **workers.containers}.items():
            names[role] = container.name
        if edge:
            names["edge"] = edge.container.name
        # The deploy engine's release history, as the retention step (the chain's last) left it,
        # and every recorded outcome (failed releases too), newest first: the releases volume's.
        retention = release.by_name.get("retention")
        self.publish(
            cfg,
            build,
            infra.network_name,
            names,
            # "healthy: <url> HTTP 200, build=…; backup: <name>": what the release proved
            release.receipt,
            releases=retention.stdout.apply(commands.history) if retention else None,
            history=retention.stdout.apply(commands.events) if retention else None,
            # What scripts/restore-backup needs to reach the backups (no secret: the password
            # stays in the MySQL container's env).
            backups={
                "volume": cfg.backups_volume if cfg.backup else "",
                "mysql": cfg.container("mysql"),
                "image": cfg.database.image,
                "network": cfg.network_name,
                "database": cfg.database.database,
                "stack": f"{pulumi.get_project()}/{pulumi.get_stack()}",
                "engine": cfg.docker.host or "",
                "known_hosts": list(cfg.docker.known_hosts),
            },
        )
