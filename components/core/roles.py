"""Per-role facts that both runtimes declare the same way: the shared volumes' names, each role's
stop signal, the health checks' timings, MySQL's environment and the worker roles. One place, so
a container on one engine and a Swarm task of the same role cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from ..config import StackConfig


def public_volume(cfg: StackConfig) -> str:
    """The volume holding each build's public/ (nginx serves it; public-init fills it)."""
    return f"{cfg.name}-public"


def storage_volume(cfg: StackConfig) -> str:
    """The app's storage/, shared by every app container, worker and the scheduler."""
    return f"{cfg.name}-storage"


def app_stop_signal(runtime: str) -> str:
    """The app server's graceful stop: FPM finishes in-flight requests on SIGQUIT; Octane's
    command stops FrankenPHP through Caddy's admin API (a graceful stop) on SIGTERM and does not
    handle SIGQUIT."""
    return "SIGQUIT" if runtime == "fpm" else "SIGTERM"


#: nginx's graceful shutdown
NGINX_STOP_SIGNAL = "SIGQUIT"
#: queue:work and schedule:work finish their current job on SIGTERM (the image's STOPSIGNAL may
#: target FPM)
WORKER_STOP_SIGNAL = "SIGTERM"
#: MySQL's shutdown flushes; give it time before SIGKILL
MYSQL_STOP_SECONDS = 60


@dataclass(frozen=True)
class Timings:
    """A health check's timings, in seconds (each runtime spells them as its engine reads them
    back)."""

    interval: int
    timeout: int
    retries: int
    start_period: int

    def kw(self) -> dict[str, Any]:
        return {"interval": self.interval, "timeout": self.timeout, "retries": self.retries,
                "start_period": self.start_period}  # fmt: skip


#: MySQL: a first start initialises the data directory (the start period)
MYSQL_HEALTH = Timings(interval=3, timeout=5, retries=20, start_period=60)
REDIS_HEALTH = Timings(interval=3, timeout=3, retries=10, start_period=5)
#: the app's health check: a failing container or task is seen within retries x interval
APP_HEALTH_RETRIES = 3
#: where something waits on the app's health: Swarm (a rollout waits for each new task's first
#: healthy probe and replaces a failing task), and one engine with `web.wait_healthy`
APP_HEALTH_INTERVAL = 2
#: on one engine otherwise nothing acts on it (the chain probes the new container itself, and
#: Docker restarts no unhealthy container): it is for `docker ps` and monitors. Each probe is a
#: `docker exec` (runc), a PHP boot and a request through the app, about 75 ms of CPU: every 2 s
#: that is 4% of a core per app container, all day; every 10 s, under 1%.
APP_HEALTH_INTERVAL_STEADY = 10


def app_health(cfg: StackConfig, start_period: int, interval: int = APP_HEALTH_INTERVAL) -> Timings:
    """The app's own health check (the chain's probe, once): its timeout is the probe's own plus
    a second. A Swarm task waits longer to start (its caches are built before FPM starts)."""
    return Timings(interval, int(cfg.health.timeout) + 1, APP_HEALTH_RETRIES, start_period)


def mysql_env(cfg: StackConfig) -> dict[str, pulumi.Input[str]]:
    """MySQL's environment: the app's database and user; the passwords stay secrets."""
    db = cfg.database
    return {
        "MYSQL_DATABASE": db.database,
        "MYSQL_USER": db.user,
        "MYSQL_PASSWORD": pulumi.Output.secret(db.password.get_secret_value()),
        "MYSQL_ROOT_PASSWORD": pulumi.Output.secret(db.root_password.get_secret_value()),
    }


@dataclass(frozen=True)
class WorkerRole:
    role: str  # "queue" or "scheduler"
    argv: list[str]
    replicas: int


def worker_roles(cfg: StackConfig) -> list[WorkerRole]:
    """The roles the app image runs besides the web: queue workers and one scheduler (never two:
    no minute's tasks may run twice)."""
    roles = []
    if cfg.queue.enabled:
        roles.append(WorkerRole("queue", cfg.queue.command, cfg.queue.replicas))
    if cfg.scheduler.enabled:
        roles.append(WorkerRole("scheduler", cfg.scheduler.command, 1))
    return roles
