"""EngineStack: the whole deployment, composed from one component per concern."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from .. import commands
from ..commands import Engine
from ..config import StackConfig
from ..core.common import app_env, build_engine, deploy_engine, public_base_url, registry_auth
from ..core.image import AppImage
from ..core.public_init import PublicInit
from .database import Database
from .edge import TlsEdge
from .network import NetworkAndVolumes
from .release import ReleaseChain
from .web import WebRuntime
from .workers import Workers


class EngineStack(pulumi.ComponentResource):
    """The whole deployment on one Docker engine. (Its type token keeps the name it was first
    deployed with: a stack's resources keep their URNs.)"""

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("laravel-stack:index:LaravelStack", name, None, opts)
        auth = registry_auth(cfg)

        # Two engines, as the field notes do it: the build engine (where `pulumi up` runs, or
        # image.build_host) builds and pushes; the deploy engine (docker.host) only pulls the
        # pushed digest and runs the containers and every release step. No source, no build on
        # the server.
        def engine_provider(name: str, engine: Engine | None) -> docker.Provider:
            # No engine: the one `pulumi up` runs beside ($DOCKER_HOST or the local socket).
            return docker.Provider(
                name,
                host=engine.host if engine else None,
                ssh_opts=list(engine.ssh_options) if engine and engine.is_ssh else None,
                registry_auth=auth or None,
                opts=pulumi.ResourceOptions(parent=self),
            )

        provider = engine_provider("docker", deploy_engine(cfg))
        build_provider = engine_provider("docker-build", build_engine(cfg))
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

        base = public_base_url(cfg)
        self.web_url = pulumi.Output.from_input(base + "/")
        self.health_url = pulumi.Output.from_input(base + cfg.health.path)
        self.image = build
        self.build_id = build.apply(lambda ref: ref.rsplit("@", 1)[-1])
        self.network = infra.network_name
        names: dict[str, pulumi.Input[str]] = {"mysql": db.container_name}
        if db.redis_name is not None:
            names["redis"] = db.redis_name
        for role, container in {**web.containers, **workers.containers}.items():
            names[role] = container.name
        if edge:
            names["edge"] = edge.container.name
        self.containers = pulumi.Output.from_input(names)
        # "healthy: <url> HTTP 200, build=…; backup: <name>": what the release proved
        self.release_receipt = release.receipt
        # What scripts/restore-backup needs to reach the backups (no secret: the password stays
        # in the MySQL container's env).
        self.backups = pulumi.Output.from_input(
            {
                "volume": cfg.backups_volume if cfg.backup else "",
                "mysql": cfg.container("mysql"),
                "image": cfg.database.image,
                "network": cfg.network_name,
                "database": cfg.database.database,
                "stack": f"{pulumi.get_project()}/{pulumi.get_stack()}",
                "engine": cfg.docker.host or "",
                "known_hosts": list(cfg.docker.known_hosts),
            }
        )
        # The deploy engine's release history, as the retention step (the chain's last) left it.
        retention = release.by_name.get("retention")
        self.releases = (
            retention.stdout.apply(commands.history) if retention else pulumi.Output.from_input([])
        )
        # Every recorded outcome (failed releases too), newest first: the releases volume's.
        self.history = (
            retention.stdout.apply(commands.events) if retention else pulumi.Output.from_input([])
        )
        self.register_outputs(
            {
                "web_url": self.web_url,
                "health_url": self.health_url,
                "image": self.image,
                "build_id": self.build_id,
                "network": self.network,
                "containers": self.containers,
            }
        )
