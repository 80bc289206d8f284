"""Network and volumes: the internal network, and the data that outlives containers."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from ..config import StackConfig
from ..core import roles


class NetworkAndVolumes(pulumi.ComponentResource):
    network_name: pulumi.Output[str]
    db_volume: pulumi.Output[str]
    storage_volume: pulumi.Output[str]
    public_volume: pulumi.Output[str]

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("laravel-stack:index:NetworkAndVolumes", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = [docker.VolumeLabelArgs(label="laravel-stack.stack", value=cfg.name)]

        if cfg.network.external:
            # Shared with other services (e.g. `docker_internal`): look it up, never own it.
            existing = docker.get_network_output(
                name=cfg.network_name, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self.network_name = existing.name
        else:
            network = docker.Network(
                "internal",
                name=cfg.network_name,
                driver="bridge",
                labels=[docker.NetworkLabelArgs(label="laravel-stack.stack", value=cfg.name)],
                opts=child,
            )
            self.network_name = network.name

        db = docker.Volume(
            "db-data",
            name=cfg.db_volume,
            labels=labels,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=cfg.database.protect_volume,
                retain_on_delete=cfg.database.retain_volume,
            ),
        )
        # Uploads live in storage/app: kept on destroy like the database.
        storage = docker.Volume(
            "storage",
            name=roles.storage_volume(cfg),
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        # Rebuilt from the image on every release by public-init: nothing to keep.
        public = docker.Volume("public", name=roles.public_volume(cfg), labels=labels, opts=child)
        self.db_volume = db.name
        self.storage_volume = storage.name
        self.public_volume = public.name
        self.backups: docker.Volume | None = None
        outputs = {
            "network_name": self.network_name,
            "db_volume": self.db_volume,
            "storage_volume": self.storage_volume,
            "public_volume": self.public_volume,
        }
        if cfg.backup:
            # The release's database dumps (the backup step): kept on destroy like the database.
            self.backups = docker.Volume(
                "backups",
                name=cfg.backups_volume,
                labels=labels,
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
            outputs["backups_volume"] = self.backups.name
        # The release history with every outcome, and the webhooks of release.notify: kept on
        # destroy, as the history is the record of what was deployed.
        self.releases = docker.Volume(
            "releases",
            name=cfg.releases_volume,
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        outputs["releases_volume"] = self.releases.name
        self.register_outputs(outputs)
