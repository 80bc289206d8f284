"""The front proxy: the switch to a new app container, the check of what it serves, and the
switch back (release_switch.sh)."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.files import PROXY_SWITCH
from .base import (
    Argv,
    Engine,
    docker_exec,
    host_script,
)


def proxy_switch(host: Engine, proxy: str, container: str, port: int, build: str) -> Argv:
    """Point the front proxy at `container` and the build's public/ (proxy_switch.sh)."""
    return docker_exec(host, proxy, "0", ["sh", PROXY_SWITCH, "to", container, str(port), build])


def proxy_serves(host: Engine, proxy: str, build: str) -> Argv:
    """Fails unless the front proxy serves `build` (a failure may have switched back)."""
    return docker_exec(host, proxy, "0", ["sh", PROXY_SWITCH, "is", build])


def switched_from(stdout: str) -> str:
    """The build the proxy served before the switch, from proxy_switch.sh's output ("": none)."""
    for line in stdout.splitlines():
        if line.startswith("previous: build="):
            return line.removeprefix("previous: build=").split(" ", 1)[0]
    return ""


def release_switch(
    host: Engine,
    mode: str,
    proxy: str,
    user: str,
    new: tuple[str, int, str],
    probe: Sequence[str],
    lift_root: str = "",
) -> Argv:
    """release_switch.sh: `verify` (the switch re-asserted, the public check, back on failure)
    or `back` (to what served before, checked; always fails). `new` is the new app container,
    its port and build; `probe` health_probe.php's arguments after the build; `lift_root` the
    app root when a switch back must also end maintenance."""
    if mode not in ("verify", "back"):
        raise ValueError(f"no release switch mode {mode!r}")
    container, port, build = new
    tail = [mode, proxy, user, container, str(port), build, lift_root, *probe]
    return host_script(host, "release_switch.sh", tail)
