"""What every container of the app shares: environment, network attachment, labels."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from ..config import StackConfig


def app_env(
    cfg: StackConfig, build: pulumi.Input[str], db_host: pulumi.Input[str]
) -> dict[str, pulumi.Input[str]]:
    """Laravel's environment. DB_* is derived from the database component; secrets stay secret."""
    env: dict[str, pulumi.Input[str]] = {
        **cfg.app.extra_env,
        "APP_ENV": cfg.app.env,
        "APP_DEBUG": "true" if cfg.app.debug else "false",
        "APP_KEY": pulumi.Output.secret(cfg.app.key.get_secret_value()),
        # The deployed digest: `config:cache` bakes it and the health route returns it, so a
        # missed rebuild or a stale OPcache fails the release's health check.
        "APP_BUILD": build,
        "DB_CONNECTION": "mysql",
        "DB_HOST": db_host,
        "DB_PORT": "3306",
        "DB_DATABASE": cfg.database.database,
        "DB_USERNAME": cfg.database.user,
        "DB_PASSWORD": pulumi.Output.secret(cfg.database.password.get_secret_value()),
        "PHP_INI_SCAN_DIR": f":{cfg.web.php_ini_dir}",  # leading ':' keeps the image's own dir
    }
    if cfg.app.url:
        env["APP_URL"] = cfg.app.url
    elif cfg.web.tls.on:
        env["APP_URL"] = cfg.web.tls.base_url
    if cfg.release.maintenance_secret is not None:
        # maintenance.php reads it from here: never on a command line
        secret = cfg.release.maintenance_secret.get_secret_value()
        env["LARAVEL_STACK_MAINTENANCE_SECRET"] = pulumi.Output.secret(secret)
    if cfg.redis.enabled:
        env["REDIS_HOST"] = cfg.container("redis")
        env["REDIS_PORT"] = "6379"
    return env


def env_list(env: dict[str, pulumi.Input[str]]) -> pulumi.Output[list[str]]:
    """Docker wants KEY=VALUE strings; a secret value keeps the whole list secret."""
    return pulumi.Output.all(
        *[pulumi.Output.concat(key, "=", value) for key, value in sorted(env.items())]
    )


def attach(network: pulumi.Input[str], alias: str) -> list[docker.ContainerNetworksAdvancedArgs]:
    return [docker.ContainerNetworksAdvancedArgs(name=network, aliases=[alias])]


def labels(cfg: StackConfig, role: str, build: pulumi.Input[str] | None = None) -> list:
    out = [
        docker.ContainerLabelArgs(label="laravel-stack.stack", value=cfg.name),
        docker.ContainerLabelArgs(label="laravel-stack.role", value=role),
    ]
    if build is not None:
        out.append(docker.ContainerLabelArgs(label="laravel-stack.build", value=build))
    return out


def go_duration(seconds: int) -> str:
    """A duration as the Docker engine reports it back (Go's `time.Duration.String()`): 60 ->
    "1m0s". Declared in any other spelling ("60s"), every refresh and preview shows a diff."""
    if seconds < 0:
        raise ValueError(f"negative duration: {seconds}")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def healthcheck(
    tests: list[str], interval: int, timeout: int, retries: int, start_period: int
) -> docker.ContainerHealthcheckArgs:
    """Every timing declared, non-zero: for a zero one the engine takes the image's HEALTHCHECK
    value (even with `NONE`), and the provider then reads back something never declared.
    `start_interval` stays at its default, 0s (engines before API 1.44 do not store it)."""
    for what, value in (("interval", interval), ("timeout", timeout), ("retries", retries),
                        ("start_period", start_period)):  # fmt: skip
        if value <= 0:
            raise ValueError(f"healthcheck {what} must be > 0 (a zero is filled from the image)")
    return docker.ContainerHealthcheckArgs(
        tests=tests,
        interval=go_duration(interval),
        timeout=go_duration(timeout),
        retries=retries,
        start_period=go_duration(start_period),
    )


def storage_mount(cfg: StackConfig, volume: pulumi.Input[str], read_only: bool = False):
    return docker.ContainerVolumeArgs(
        volume_name=volume,
        container_path=f"{cfg.web.app_root}/storage",
        read_only=read_only,
    )
