"""SwarmStack: the whole deployment on a Docker Swarm (swarm.enabled), one service per concern.

docker.host is a manager. The image is built and pushed as for one engine and every node pulls
the digest with the registry login (the provider's registry auth reaches every service). The
release: public-init, contract, migrate and the application cache once (one-shots on the
manager), then the rollout, in which every app task runs its own release chain and proves its
build before it gets traffic, then the fleet check of every task, the public switch, the
workers' rollout, queue:restart and retention.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_docker as docker

from ..config import StackConfig
from ..core import roles
from ..core.common import app_env, build_engine, deploy_engine, public_base_url, registry_auth
from ..core.image import AppImage
from ..core.public_init import PublicInit
from .cluster import ClusterBase
from .data import SwarmData
from .release import AfterRollout, BeforeRollout, Finish, rollout_key
from .web import SwarmWeb
from .workers import SwarmWorkers

#: app env keys whose values are secrets: a docker secret (the tasks) or stdin (one-shots)
SECRET_ENV = ("APP_KEY", "DB_PASSWORD", "LARAVEL_STACK_MAINTENANCE_SECRET")


def split_env(
    cfg: StackConfig, build: pulumi.Output[str], db_host: pulumi.Input[str]
) -> tuple[dict[str, pulumi.Input[str]], dict[str, str]]:
    """The app's env as plain values (in the service spec) and secret ones (never there)."""
    env = app_env(cfg, build, db_host)
    secrets = {
        "APP_KEY": cfg.app.key.get_secret_value(),
        "DB_PASSWORD": cfg.database.password.get_secret_value(),
    }
    plain = {k: v for k, v in env.items() if k not in SECRET_ENV}
    return plain, secrets


class SwarmStack(pulumi.ComponentResource):
    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("laravel-stack:index:SwarmStack", name, None, opts)
        auth = registry_auth(cfg)
        engine = deploy_engine(cfg)
        provider = docker.Provider(
            "docker",
            host=engine.host,
            ssh_opts=list(engine.ssh_options) if engine.is_ssh else None,
            # Every service's tasks pull with it, on whichever node (upstream sends it as the
            # service's registry auth): no `auth` per service, which would replace the service.
            registry_auth=auth or None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        builder = build_engine(cfg)  # None: the engine `pulumi up` runs beside
        build_provider = docker.Provider(
            "docker-build",
            host=builder.host if builder else None,
            ssh_opts=list(builder.ssh_options) if builder and builder.is_ssh else None,
            registry_auth=auth or None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"docker": provider})

        image = AppImage("image", cfg, build_provider, opts=child)
        build = image.repo_digest
        storage = roles.storage_volume(cfg)
        _, secrets = split_env(cfg, build, cfg.container("mysql"))
        base = ClusterBase("cluster", cfg, secrets, opts=child)
        data = SwarmData("data", cfg, base.network.name, opts=child)
        env, _ = split_env(cfg, build, data.host)
        public = PublicInit(
            "public-init", cfg, build, image.image_id, base.public_volume.name, opts=child
        )
        plain_env: pulumi.Output[Any] = pulumi.Output.all(**env)
        before = BeforeRollout(
            "before-rollout",
            cfg,
            build,
            plain_env,
            secrets,
            public.done,
            after=list(data.services.values()),
            opts=child,
        )
        web = SwarmWeb("web", cfg, build, env, base, storage, after=before.done, opts=child)
        rollout = rollout_key(web.app.id, web.app_spec, before.canary)
        after = AfterRollout("after-rollout", cfg, build, web.app, web.app.id, rollout, opts=child)
        workers = SwarmWorkers(
            "workers", cfg, build, env, base, storage, after=[after.switch], opts=child
        )
        finish = Finish(
            "finish",
            cfg,
            build,
            plain_env,
            secrets,
            after=[after.switch, *workers.services.values()],
            opts=child,
        )

        base_url = public_base_url(cfg)
        self.web_url = pulumi.Output.from_input(base_url + "/")
        self.health_url = pulumi.Output.from_input(base_url + cfg.health.path)
        self.image = build
        self.build_id = build.apply(lambda ref: ref.rsplit("@", 1)[-1])
        self.network = base.network.name
        names: dict[str, pulumi.Input[str]] = {
            role: svc.name for role, svc in data.services.items()
        }
        names.update({"app": web.app.name, "web": web.nginx.name})
        names.update({role: svc.name for role, svc in workers.services.items()})
        self.containers = pulumi.Output.from_input(names)
        self.release_receipt = after.fleet.stdout
        # No release history or backups in a swarm stack yet (README).
        self.releases: pulumi.Output[list[Any]] = pulumi.Output.from_input([])
        self.history: pulumi.Output[list[Any]] = pulumi.Output.from_input([])
        self.backups: pulumi.Output[dict[str, Any]] = pulumi.Output.from_input({})
        self.retention = finish.retention.stdout
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
