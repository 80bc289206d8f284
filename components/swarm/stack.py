"""SwarmStack: the whole deployment on a Docker Swarm (swarm.enabled), one service per concern.

docker.host is a manager. The image is built and pushed as for one engine and every node pulls
the digest with the registry login (the provider's registry auth reaches every service). The
release: public-init, contract, migrate and the application cache once (one-shots on the
manager), then the rollout, in which every app task runs its own release chain and proves its
build before it gets traffic, then the fleet check of every task, the public switch, the
workers' rollout, queue:restart and retention.
"""

from __future__ import annotations

import pulumi

from ..config import StackConfig
from ..core import roles
from ..core.common import app_env
from ..core.engines import providers
from ..core.image import AppImage
from ..core.outputs import Stack
from ..core.public_init import PublicInit
from .cluster import ClusterBase
from .data import SwarmData
from .release import SwarmRelease, rollout_key
from .web import SwarmWeb
from .workers import SwarmWorkers

#: app env keys whose values are secrets: a docker secret (the tasks) or stdin (one-shots)
SECRET_ENV = ("APP_KEY", "DB_PASSWORD", "LARAVEL_STACK_MAINTENANCE_SECRET")


def secret_values(cfg: StackConfig) -> dict[str, str]:
    """The app env's secrets: a docker secret for the tasks, stdin for the one-shots; never in a
    service spec or on a command line."""
    return {
        "APP_KEY": cfg.app.key.get_secret_value(),
        "DB_PASSWORD": cfg.database.password.get_secret_value(),
    }


def plain_env(
    cfg: StackConfig, build: pulumi.Output[str], db_host: pulumi.Input[str]
) -> dict[str, pulumi.Input[str]]:
    """The app's env without its secrets: the values a service spec may carry."""
    return {k: v for k, v in app_env(cfg, build, db_host).items() if k not in SECRET_ENV}


class SwarmStack(Stack):
    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("laravel-stack:index:SwarmStack", name, None, opts)
        provider, build_provider = providers(self, cfg)
        child = pulumi.ResourceOptions(parent=self, providers={"docker": provider})

        image = AppImage("image", cfg, build_provider, opts=child)
        build = image.repo_digest
        storage = roles.storage_volume(cfg)
        secrets = secret_values(cfg)
        base = ClusterBase("cluster", cfg, secrets, opts=child)
        data = SwarmData("data", cfg, base.network.name, opts=child)
        env = plain_env(cfg, build, data.host)
        public = PublicInit(
            "public-init", cfg, build, image.image_id, base.public_volume.name, opts=child
        )
        # The chain (release.PHASES) around Swarm's own rollouts of the app and the workers.
        chain = SwarmRelease(cfg, build, pulumi.Output.all(**env), secrets, opts=child)
        before = chain.phase(
            "before-rollout", [public.done], {"contract": list(data.services.values())}
        )
        canary = before.steps["canary"]
        web = SwarmWeb("web", cfg, build, env, base, storage, after=[canary], opts=child)
        rollout = rollout_key(web.app.id, web.app_spec, canary)
        after = chain.phase("after-rollout", [web.app], rollout=rollout, app=web.app.id)
        switch = after.steps["switch"]
        workers = SwarmWorkers(
            "workers", cfg, build, env, base, storage, after=[switch], opts=child
        )
        finish = chain.phase("finish", [switch, *workers.services.values()])

        names: dict[str, pulumi.Input[str]] = {
            role: svc.name for role, svc in data.services.items()
        }
        names.update({"app": web.app.name, "web": web.nginx.name})
        names.update({role: svc.name for role, svc in workers.services.items()})
        # No release history or backups in a swarm stack yet (docs/operations/swarm.md).
        self.publish(cfg, build, base.network.name, names, after.steps["fleet-check"].stdout)
        self.retention = finish.steps["retention"].stdout
