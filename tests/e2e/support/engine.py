"""This machine's engine (or the SSH test server's): restarts, container states, cleanup."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from .http import wait_for
from .local import NAME
from .pulumi import REPO
from .shell import sh


def restart_engine(server: bool = False) -> None:
    """Restart a Docker engine as a host reboot or a package upgrade does (SIGTERM: it stops its
    containers; started again the same way): this machine's, or the SSH test server's."""
    if server:
        sh("bash", str(REPO / "proving-ground/remote-host"), "restart-engine", timeout=240)
    else:
        sh(
            "bash",
            str(REPO / "proving-ground/bootstrap-docker.sh"),
            "--restart-dockerd",
            timeout=240,
        )


def stack_container_states(name: str, docker_host: str | None = None) -> dict[str, str]:
    host = ["--host", docker_host] if docker_host else []
    out = sh("docker", *host, "ps", "-a", "--filter", f"label=laravel-stack.stack={name}",
             "--format", "{{.Names}}\t{{.State}}").stdout  # fmt: skip
    return dict(line.split("\t") for line in out.splitlines())


#: after an engine restart, every request must be answered by the serving build within this
RESTART_BOUND_S = 120


def engine_restart_recovers(
    server: bool, get: Callable[[str], tuple[int, Any]], build: str, name: str,
    docker_host: str | None = None,
) -> float:  # fmt: skip
    """Restart the engine with no `pulumi` command run; return the seconds until the site
    answered `build` again. Then 50 requests in a row must all be that build, and every
    container of the stack must be running again (none left `Exited`)."""
    t0 = time.monotonic()
    restart_engine(server)

    def serves() -> bool:
        status, body = get("/up")
        return status == 200 and isinstance(body, dict) and body.get("build") == build

    wait_for(serves, RESTART_BOUND_S, interval=0.5, what=f"{build} served after the restart")
    seconds = time.monotonic() - t0
    answers: Counter[Any] = Counter()
    for _ in range(50):
        status, body = get("/up")
        answers[body.get("build") if status == 200 and isinstance(body, dict) else status] += 1
        time.sleep(0.05)
    assert answers == {build: 50}, f"after the restart: {answers}"
    wait_for(
        lambda: set(stack_container_states(name, docker_host).values()) == {"running"},
        RESTART_BOUND_S, what="every container of the stack running",
    )  # fmt: skip
    return seconds


def docker_cleanup(name: str = NAME) -> None:
    """Remove whatever an earlier run of this stack left on the engine."""
    ids = sh("docker", "ps", "-aq", "--filter", f"label=laravel-stack.stack={name}").stdout.split()
    if ids:
        sh("docker", "rm", "-f", *ids)
    for vol in ["db-data", "storage", "public", "tls"]:
        sh("docker", "volume", "rm", "-f", f"{name}-{vol}", check=False)
    sh("docker", "network", "rm", f"{name}-internal", check=False)
