"""AppImage: build + push the app image; everything downstream runs the pushed digest."""

from __future__ import annotations

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from .. import commands
from ..config import StackConfig
from .engines import deploy_engine


class AppImage(pulumi.ComponentResource):
    repo_digest: pulumi.Output[str]
    image_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        build_provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:AppImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        image = cfg.image
        if image.digest:
            # A rollback (or any pushed build): nothing is built or pushed.
            self.repo_digest = pulumi.Output.from_input(f"{image.repository}@{image.digest}")
        else:
            self.repo_digest = self._build(cfg, build_provider)
        # Pull by digest on the deploy engine: containers then run exactly what was pushed,
        # whichever engine built it, and the tag is never consulted again. The engine's CLI
        # pulls first (the provider then finds the build there): a failed pull says why.
        host = deploy_engine(cfg)
        login = cfg.registry
        fetched = command.local.Command(
            "pull",
            create=self.repo_digest.apply(
                lambda build: commands.script(commands.pull(host, build, image.platform))
            ),
            stdin=pulumi.Output.secret(
                commands.docker_config(
                    login.server if login else None,
                    login.username if login else None,
                    login.password.get_secret_value() if login and login.password else None,
                )
            ),
            triggers=[self.repo_digest],
            logging=command.local.Logging.NONE,
            opts=child,
        )
        pulled = docker.RemoteImage(
            "app",
            name=self.repo_digest,
            platform=image.platform,
            keep_locally=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[fetched]),
        )
        self.image_id = pulled.image_id
        self.register_outputs({"repo_digest": self.repo_digest, "image_id": self.image_id})

    def _build(
        self, cfg: StackConfig, build_provider: pulumi.ProviderResource
    ) -> pulumi.Output[str]:
        registry = None
        if cfg.registry and cfg.registry.password:
            registry = docker.RegistryArgs(
                server=cfg.registry.server,
                username=cfg.registry.username,
                password=pulumi.Output.secret(cfg.registry.password.get_secret_value()),
            )
        image = cfg.image
        build = docker.Image(
            "app",
            image_name=f"{image.repository}:{image.tag}",
            build=docker.DockerBuildArgs(
                context=image.context,
                dockerfile=f"{image.context}/{image.dockerfile}",
                args=image.build_args or None,
                target=image.target,
                platform=image.platform,
            ),
            registry=registry,
            # Built and pushed by the build engine; the deploy engine never sees the source.
            opts=pulumi.ResourceOptions(parent=self, provider=build_provider),
        )
        return build.repo_digest
