"""PublicInit: fill the public volume from the new image and create the relative storage link.

A pulumi-docker one-shot container (`must_run=False`) re-runs on every `up` and never fails on
its exit code, so the job is a `docker run --rm` command instead: triggered only by a new
digest, and a non-zero exit fails the deploy.
"""

from __future__ import annotations

import pulumi
import pulumi_command as command

from .. import commands
from ..config import StackConfig
from .engines import deploy_engine


class PublicInit(pulumi.ComponentResource):
    done: command.local.Command

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        repo_digest: pulumi.Input[str],
        pulled_id: pulumi.Input[str],
        volume: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:PublicInit", name, None, opts)
        # Waits for the deploy engine's pull of the digest (pulled_id): the job never pulls.
        create = pulumi.Output.all(repo_digest, volume, pulled_id).apply(
            lambda args: commands.script(
                commands.public_init(
                    deploy_engine(cfg),
                    image=args[0],
                    volume=args[1],
                    public_path=cfg.public_init.public_path,
                    storage_link=cfg.public_init.storage_link,
                    uid=cfg.web_user.uid,
                    gid=cfg.web_user.gid,
                )
            )
        )
        self.done = command.local.Command(
            "public-init",
            create=create,
            triggers=[repo_digest],
            logging=command.local.Logging.NONE,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"stdout": self.done.stdout})
