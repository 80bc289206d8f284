"""The engines a stack talks to and their providers: the deploy engine (docker.host) runs every
container and release step; the build engine (image.build_host, or the one `pulumi up` runs
beside) builds and pushes. Both runtimes construct them the same way."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from ..commands import Engine, engine
from ..config import StackConfig


def deploy_engine(cfg: StackConfig) -> Engine:
    """The engine that runs every container and release step (docker.host)."""
    d = cfg.docker
    return engine(d.host, d.known_hosts, d.ssh_multiplex, cfg.name)


def build_engine(cfg: StackConfig) -> Engine | None:
    """The engine that builds and pushes (image.build_host); None: the local one."""
    if cfg.image.build_host is None:
        return None
    d = cfg.docker
    return engine(cfg.image.build_host, d.known_hosts, d.ssh_multiplex, f"{cfg.name}-build")


def registry_auth(cfg: StackConfig) -> list[docker.ProviderRegistryAuthArgs]:
    """The registry login for the providers (a secret end to end)."""
    if not (cfg.registry and cfg.registry.password):
        return []
    return [
        docker.ProviderRegistryAuthArgs(
            address=cfg.registry.server,
            username=cfg.registry.username,
            password=pulumi.Output.secret(cfg.registry.password.get_secret_value()),
        )
    ]


def providers(parent: pulumi.Resource, cfg: StackConfig) -> tuple[docker.Provider, docker.Provider]:
    """The deploy engine's provider and the build engine's, each with the registry login (a
    secret end to end). On a Swarm every service's tasks pull with it, on whichever node
    (upstream sends it as the service's registry auth): no `auth` per service, which would
    replace the service."""
    auth = registry_auth(cfg)

    def provider(name: str, engine: Engine | None) -> docker.Provider:
        # No engine: the one `pulumi up` runs beside ($DOCKER_HOST or the local socket).
        return docker.Provider(
            name,
            host=engine.host if engine else None,
            ssh_opts=list(engine.ssh_options) if engine and engine.is_ssh else None,
            registry_auth=auth or None,
            opts=pulumi.ResourceOptions(parent=parent),
        )

    return provider("docker", deploy_engine(cfg)), provider("docker-build", build_engine(cfg))
