"""What a stack exports, the same for both runtimes (README "Outputs"): its endpoints, the build,
the network, the containers (or services) by role, the release's receipt and records."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pulumi

from ..config import StackConfig


def public_base_url(cfg: StackConfig) -> str:
    if cfg.app.url:
        return cfg.app.url.rstrip("/")
    if cfg.web.tls.on:
        return cfg.web.tls.base_url
    host = cfg.web.host
    if host == "0.0.0.0":
        # Published on every interface: name the Docker host itself.
        host = urlsplit(cfg.docker.host).hostname or "127.0.0.1"
    return f"http://{host}:{cfg.web.port}"


class Stack(pulumi.ComponentResource):
    """A whole deployment: each runtime's stack declares its resources, then `publish`es."""

    web_url: pulumi.Output[str]
    health_url: pulumi.Output[str]
    image: pulumi.Output[str]
    build_id: pulumi.Output[str]
    network: pulumi.Output[str]
    containers: pulumi.Output[Any]
    release_receipt: pulumi.Output[str]
    releases: pulumi.Output[list[Any]]
    history: pulumi.Output[list[Any]]
    backups: pulumi.Output[dict[str, Any]]

    def publish(
        self,
        cfg: StackConfig,
        build: pulumi.Output[str],
        network: pulumi.Input[str],
        containers: dict[str, pulumi.Input[str]],
        receipt: pulumi.Input[str],
        releases: pulumi.Input[list[Any]] | None = None,
        history: pulumi.Input[list[Any]] | None = None,
        backups: pulumi.Input[dict[str, Any]] | None = None,
    ) -> None:
        base = public_base_url(cfg)
        self.web_url = pulumi.Output.from_input(base + "/")
        self.health_url = pulumi.Output.from_input(base + cfg.health.path)
        self.image = build
        self.build_id = build.apply(lambda ref: ref.rsplit("@", 1)[-1])
        self.network = pulumi.Output.from_input(network)
        self.containers = pulumi.Output.from_input(containers)
        self.release_receipt = pulumi.Output.from_input(receipt)
        self.releases = pulumi.Output.from_input(releases if releases is not None else [])
        self.history = pulumi.Output.from_input(history if history is not None else [])
        self.backups = pulumi.Output.from_input(backups if backups is not None else {})
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
