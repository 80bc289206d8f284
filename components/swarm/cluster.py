"""ClusterBase: what every service of the swarm stack stands on: the attachable overlay, the
shared public volume on the manager, the files every task gets (docker configs) and the secret
part of the app's env (a docker secret)."""

from __future__ import annotations

import base64

import pulumi
import pulumi_docker as docker

from .. import commands
from ..commands.swarm import SECRET_ENV_FILE, TASK_DIR, secret_env
from ..config import StackConfig
from ..core import files, roles
from . import services

#: the scripts every app, worker and scheduler task runs from (task_start.sh: the task's chain)
TASK_SCRIPTS = ("task_start.sh", "artisan_batch.php", "health_probe.php")


class ClusterBase(pulumi.ComponentResource):
    network: docker.Network
    public_volume: docker.Volume
    #: config mounts of every PHP task (scripts, php.ini)
    task_files: list[docker.ServiceTaskSpecContainerSpecConfigArgs]
    #: the secret env's mount
    task_secrets: list[docker.ServiceTaskSpecContainerSpecSecretArgs]
    nginx_files: list[docker.ServiceTaskSpecContainerSpecConfigArgs]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        secrets: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:ClusterBase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Attachable: the release's one-shots (migrate, the fleet check) join it on the manager.
        encrypted = cfg.network.encrypted
        self.network = docker.Network(
            "overlay",
            name=cfg.network_name,
            driver="overlay",
            attachable=True,
            options={"encrypted": ""} if encrypted else None,
            # The engine adds its VXLAN id to an encrypted overlay's options, which upstream
            # reads back: every `up` would plan to replace the network the services use.
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["options"] if encrypted else None
            ),
        )
        public = roles.public_volume(cfg)
        # Declared on the manager, where public-init fills it; every node's engine creates its
        # own with the same options when a task mounts it (services.shared_mount).
        self.public_volume = docker.Volume(
            "public",
            name=public,
            driver="local",
            driver_opts=services.shared_options(cfg, public),
            opts=child,
        )
        self.task_files = []
        for script in TASK_SCRIPTS:
            content = (commands.SCRIPTS / script).read_text()
            _, mount = services.file_config(cfg, script, f"{TASK_DIR}/{script}", content, self)
            self.task_files.append(mount)
        ini = f"{cfg.web.php_ini_dir}/zz-laravel-stack.ini"
        _, mount = services.file_config(cfg, "php.ini", ini, files.php_ini(cfg.web.php_ini), self)
        self.task_files.append(mount)
        web = cfg.web
        conf = files.swarm_nginx_conf(
            web.app_root, f"tasks.{cfg.container('app')}", web.runtime, web.app_port
        )
        _, mount = services.file_config(
            cfg, "nginx.conf", "/etc/nginx/conf.d/default.conf", conf, self
        )
        self.nginx_files = [mount]
        content = secret_env(secrets)
        secret = docker.Secret(
            "env",
            name=services.config_name(cfg.name, "env", content),
            data=pulumi.Output.secret(base64.b64encode(content.encode()).decode()),
            opts=child,
        )
        self.task_secrets = [
            docker.ServiceTaskSpecContainerSpecSecretArgs(
                secret_id=secret.id,
                secret_name=secret.name,
                file_name=SECRET_ENV_FILE,
                # The web user's alone: task_start.sh reads it as whatever user the image runs.
                file_uid=str(cfg.web_user.uid),
                file_gid=str(cfg.web_user.gid),
                file_mode=0o400,
            )
        ]
        self.register_outputs({"network": self.network.name, "public": self.public_volume.name})
