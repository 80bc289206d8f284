"""Web runtime: a release-named app container (PHP-FPM, or FrankenPHP/Octane) behind a stable
nginx front proxy that owns the published port.

Blue/green under Pulumi's own lifecycle: the app container is auto-named (a new name for every
release) and replaced create-before-delete, so the new one starts beside the old one. The release
chain checks the new container directly, then switches nginx to it (graceful reload); Pulumi
deletes the old container only after the whole chain has passed, with a grace period.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from .. import commands
from ..config import StackConfig
from ..core import files, roles
from ..core.common import attach, env_list, healthcheck, labels, storage_mount


def app_health_interval(cfg: StackConfig) -> int:
    """Seconds between two Docker health probes of the app container: fast only when `up` waits
    for the first healthy one (`web.wait_healthy`); Docker probes first one interval after the
    start."""
    return roles.APP_HEALTH_INTERVAL if cfg.web.wait_healthy else roles.APP_HEALTH_INTERVAL_STEADY


class WebRuntime(pulumi.ComponentResource):
    #: the new app container's name: the release chain runs there
    worker_container: pulumi.Output[str]
    #: the container holding the web workers (its id re-triggers the chain)
    primary: docker.Container
    #: the front proxy's container name (stable; publishes the port)
    entry_container: pulumi.Output[str]
    #: FastCGI/HTTP target that reaches the app container from inside itself (pre-switch check)
    direct_url: str
    #: URL through the front proxy, from inside the app container (post-switch check)
    public_url: str
    #: port the front proxy passes to on the app container
    app_port: int
    containers: dict[str, docker.Container]  # role -> container

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        image_id: pulumi.Input[str],
        build: pulumi.Output[str],
        env: dict[str, pulumi.Input[str]],
        network: pulumi.Input[str],
        storage_volume: pulumi.Input[str],
        public_volume: pulumi.Input[str],
        public_ready: pulumi.Resource,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:WebRuntime", name, None, opts)
        web = cfg.web
        ini = dict(web.php_ini)
        if cfg.build_from == "header":
            ini.update(commands.build_header_ini(cfg.health.path))
        uploads = [
            docker.ContainerUploadArgs(
                file=f"{web.php_ini_dir}/zz-laravel-stack.ini", content=files.php_ini(ini)
            ),
            # The chain's scripts (probe, contract, artisan batch, FPM reload) as files: each
            # step's command line stays one short line, its own output follows it on a failure.
            *(
                docker.ContainerUploadArgs(file=path, content=content)
                for path, content in commands.release_scripts().items()
            ),
        ]
        if web.tls.ca_roots is not None:
            # The verify step's https check trusts them (a private CA, an ACME test server).
            uploads.append(
                docker.ContainerUploadArgs(file=files.APP_CA_ROOTS, content=web.tls.ca_roots)
            )
        fpm = web.runtime == "fpm"
        role = "app" if fpm else "octane"
        self.app_port = web.app_port
        # No fixed name: Pulumi auto-names it `<name>-app-<random>` and picks a new name on every
        # replacement, so old and new coexist (even a rollback to a digest still running).
        app = docker.Container(
            cfg.container(role),
            image=image_id,
            command=None if fpm else commands.octane_command(web.octane_port),
            envs=env_list(env),
            uploads=uploads,
            networks_advanced=attach(network, role),
            volumes=[storage_mount(cfg, storage_volume)],
            restart="unless-stopped",
            healthcheck=healthcheck(
                commands.app_health_test(
                    web.app_url("127.0.0.1", cfg.health.path),
                    expected_status=cfg.health.expected_status,
                    build_field=cfg.probe_field,
                    timeout=cfg.health.timeout,
                    script=f"{web.app_root}/public/index.php",
                ),
                **roles.app_health(cfg, start_period=30, interval=app_health_interval(cfg)).kw(),
            ),
            # The stack's own health check: `up` waits until the new container answers.
            wait=web.wait_healthy,
            wait_timeout=web.wait_timeout,
            # FPM finishes in-flight requests on SIGQUIT; give it time before SIGKILL.
            stop_signal=roles.app_stop_signal(web.runtime),
            destroy_grace_seconds=web.destroy_grace_seconds,
            labels=labels(cfg, role, build),
            opts=pulumi.ResourceOptions(
                parent=self,
                additional_secret_outputs=["envs"],
                # The engine honours this over the provider's delete-first default: no fixed
                # name or port on this container, so the old one serves until the switch.
                delete_before_replace=False,
            ),
        )
        nginx_image = docker.RemoteImage(
            "nginx",
            name=web.nginx_image,
            keep_locally=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Stable across releases: nothing here depends on the digest, so it is never replaced.
        nginx = docker.Container(
            "nginx",
            name=cfg.container("web"),
            image=nginx_image.image_id,
            uploads=[
                docker.ContainerUploadArgs(
                    file="/etc/nginx/conf.d/default.conf",
                    content=files.nginx_conf(web.app_root, web.runtime, web.tls.on),
                ),
                docker.ContainerUploadArgs(
                    file=files.PROXY_SWITCH,
                    content=(commands.SCRIPTS / "proxy_switch.sh").read_text(),
                ),
            ],
            # With TLS on, the edge owns the published ports and nginx is internal only.
            ports=None
            if web.tls.on
            else [docker.ContainerPortArgs(internal=80, external=web.port, ip=web.host)],
            networks_advanced=attach(network, "web"),
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=public_volume,
                    container_path=f"{web.app_root}/public",
                    read_only=True,
                ),
                storage_mount(cfg, storage_volume, read_only=True),
            ],
            restart="unless-stopped",
            stop_signal=roles.NGINX_STOP_SIGNAL,
            destroy_grace_seconds=web.destroy_grace_seconds,
            labels=labels(cfg, "web"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_ready]),
        )
        self.containers = {role: app, "web": nginx}
        self.primary = app
        self.worker_container = app.name
        self.entry_container = nginx.name
        self.direct_url = web.app_url("127.0.0.1", cfg.health.path)
        self.public_url = f"http://{cfg.container('web')}:80{cfg.health.path}"
        if web.tls.on:
            # Through the edge, by the site's name (an alias of the edge inside the network).
            self.public_url = f"https://{web.tls.site_name}:{web.tls.https_port}{cfg.health.path}"
        self.register_outputs(
            {"worker_container": self.worker_container, "entry_container": self.entry_container}
        )
