"""Web runtime: `fpm` = PHP-FPM app container + nginx; `octane` = FrankenPHP/Octane container."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from . import files
from .common import attach, env_list, labels, storage_mount
from .config import StackConfig


class WebRuntime(pulumi.ComponentResource):
    #: where the web workers (and their OPcache) live: the release chain runs there
    worker_container: pulumi.Output[str]
    #: the container that publishes the web port
    entry_container: pulumi.Output[str]
    #: the container holding the web workers
    primary: docker.Container
    #: the URL the health probe uses from inside the worker container
    probe_url: str
    containers: dict[str, docker.Container]  # role -> container

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        image_id: pulumi.Input[str],
        build: pulumi.Input[str],
        env: dict[str, pulumi.Input[str]],
        network: pulumi.Input[str],
        storage_volume: pulumi.Input[str],
        public_volume: pulumi.Input[str],
        public_ready: pulumi.Resource,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:WebRuntime", name, None, opts)
        web = cfg.web
        ini = docker.ContainerUploadArgs(
            file=f"{web.php_ini_dir}/zz-laravel-stack.ini",
            content=files.php_ini(web.php_ini),
        )
        secret_env = pulumi.ResourceOptions(parent=self, additional_secret_outputs=["envs"])
        published = [docker.ContainerPortArgs(internal=80, external=web.port, ip=web.host)]

        if web.runtime == "fpm":
            app = docker.Container(
                "app",
                name=cfg.container("app"),
                image=image_id,
                envs=env_list(env),
                uploads=[ini],
                networks_advanced=attach(network, "app"),
                volumes=[storage_mount(cfg, storage_volume)],
                restart="unless-stopped",
                wait=web.wait_healthy,
                wait_timeout=web.wait_timeout,
                # FPM finishes in-flight requests on SIGQUIT; give it time before SIGKILL.
                stop_signal="SIGQUIT",
                destroy_grace_seconds=web.destroy_grace_seconds,
                labels=labels(cfg, "app", build),
                opts=secret_env,
            )
            nginx_image = docker.RemoteImage(
                "nginx",
                name=web.nginx_image,
                keep_locally=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
            nginx = docker.Container(
                "nginx",
                name=cfg.container("web"),
                image=nginx_image.image_id,
                uploads=[
                    docker.ContainerUploadArgs(
                        file="/etc/nginx/conf.d/default.conf",
                        content=files.nginx_conf(web.app_root, cfg.container("app"), web.fpm_port),
                    )
                ],
                ports=published,
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
                stop_signal="SIGQUIT",  # nginx's graceful shutdown
                destroy_grace_seconds=web.destroy_grace_seconds,
                labels=labels(cfg, "web"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[app, public_ready]),
            )
            self.containers = {"app": app, "web": nginx}
            self.primary = app
            self.worker_container = app.name
            self.entry_container = nginx.name
            self.probe_url = f"http://{cfg.container('web')}:80{cfg.health.path}"
        else:
            octane = docker.Container(
                "octane",
                name=cfg.container("octane"),
                image=image_id,
                command=[
                    "php",
                    "artisan",
                    "octane:frankenphp",
                    "--host=0.0.0.0",
                    f"--port={web.octane_port}",
                ],
                envs=env_list(env),
                uploads=[ini],
                ports=[
                    docker.ContainerPortArgs(
                        internal=web.octane_port, external=web.port, ip=web.host
                    )
                ],
                networks_advanced=attach(network, "web"),
                volumes=[
                    storage_mount(cfg, storage_volume),
                    docker.ContainerVolumeArgs(
                        volume_name=public_volume,
                        container_path=cfg.public_init.public_path,
                    ),
                ],
                restart="unless-stopped",
                wait=web.wait_healthy,
                wait_timeout=web.wait_timeout,
                destroy_grace_seconds=web.destroy_grace_seconds,
                labels=labels(cfg, "octane", build),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[public_ready],
                    additional_secret_outputs=["envs"],
                ),
            )
            self.containers = {"octane": octane}
            self.primary = octane
            self.worker_container = octane.name
            self.entry_container = octane.name
            self.probe_url = f"http://127.0.0.1:{web.octane_port}{cfg.health.path}"
        self.register_outputs(
            {
                "worker_container": self.worker_container,
                "entry_container": self.entry_container,
            }
        )
