"""The TLS edge: Caddy terminates HTTPS in front of the stable nginx (web.tls.mode files/acme).

Caddy owns the published ports (HTTP and HTTPS) and passes every request to nginx by its stable
name; the release switch stays nginx's graceful reload, so nothing here changes with a release.
Certificates obtained over ACME, the account and renewal state live in a retained volume: a
release, a new edge container or `pulumi destroy` never requests a new certificate.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from ..config import StackConfig
from ..core import files
from ..core.common import labels


class TlsEdge(pulumi.ComponentResource):
    container: docker.Container
    #: the data volume (certificates, ACME account)
    volume_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        network: pulumi.Input[str],
        upstream: docker.Container,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:TlsEdge", name, None, opts)
        web, tls = cfg.web, cfg.web.tls
        caddyfile = files.caddyfile(
            mode=tls.mode,
            domains=tls.domains,
            http_port=web.port,
            https_port=tls.https_port,
            upstream=f"{cfg.container('web')}:80",
            email=tls.email,
            acme_directory=tls.acme_directory,
            ca_roots=tls.ca_roots is not None,
            hsts_seconds=tls.hsts_seconds,
        )
        uploads = [docker.ContainerUploadArgs(file="/etc/caddy/Caddyfile", content=caddyfile)]
        if tls.ca_roots is not None:
            uploads.append(docker.ContainerUploadArgs(file=files.EDGE_ROOTS, content=tls.ca_roots))
        if tls.mode == "files" and tls.certificate and tls.key:
            uploads += [
                docker.ContainerUploadArgs(file=files.EDGE_CHAIN, content=tls.certificate),
                docker.ContainerUploadArgs(
                    file=files.EDGE_KEY,
                    content=pulumi.Output.secret(tls.key.get_secret_value()),
                ),
            ]
        volume = docker.Volume(
            "tls",
            name=tls.volume or f"{cfg.name}-tls",
            # Kept on delete: issued certificates outlive the stack (ACME rate limits).
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        image = docker.RemoteImage(
            "edge",
            name=tls.edge_image,
            keep_locally=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Inside the network the edge answers to the site's names too: the verify step (and
        # the app itself) reach https://<domain> there without leaving the host.
        aliases = ["edge", *[d for d in tls.domains if not d.startswith("*.")]]
        self.container = docker.Container(
            "edge",
            name=cfg.container("edge"),
            image=image.image_id,
            uploads=uploads,
            # The same ports inside and out: Caddy's redirects and ACME challenges name them.
            ports=[
                docker.ContainerPortArgs(internal=web.port, external=web.port, ip=web.host),
                docker.ContainerPortArgs(
                    internal=tls.https_port, external=tls.https_port, ip=web.host
                ),
            ],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network, aliases=aliases)],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=volume.name, container_path=files.EDGE_DATA)
            ],
            restart="unless-stopped",
            destroy_grace_seconds=web.destroy_grace_seconds,
            labels=labels(cfg, "edge"),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[upstream],
                # The key is among the uploads: the provider's read-back stays secret too.
                additional_secret_outputs=["uploads"] if tls.mode == "files" else None,
            ),
        )
        self.volume_name = volume.name
        self.register_outputs({"container": self.container.name, "volume": self.volume_name})
