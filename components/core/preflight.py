"""Preflight: an ssh:// engine is reached, as the provider and the release will reach it, before
any resource is declared. A wrong host key, a refused login, an unreachable server or a user
without Docker rights fails `pulumi preview`/`up` with one line naming the host and the cause,
before anything changes.
"""

from __future__ import annotations

import subprocess
from urllib.parse import urlsplit

from .. import commands
from ..commands import Engine

# (what ssh or docker prints, the cause in words); the first match wins.
CAUSES: tuple[tuple[str, str], ...] = (
    ("Host key verification failed",
     "the server's host key does not match docker.known_hosts (a changed key, or not that "
     "server): check the key out of band before changing the pin"),
    ("Permission denied (publickey",
     "login refused for {user}: no key in the ssh agent (or key file) that the server accepts"),
    ("Could not resolve hostname", "unreachable: the name does not resolve"),
    ("Connection refused", "unreachable: connection refused (is sshd running on that port?)"),
    ("No route to host", "unreachable: no route to host"),
    ("Network is unreachable", "unreachable: network is unreachable"),
    ("timed out", "unreachable: connection timed out"),
    ("permission denied while trying to connect to the Docker daemon",
     "{user} may not use Docker there: add it to the docker group"),
    ("docker: command not found", "Docker is not installed there"),
    ("Cannot connect to the Docker daemon", "Docker is not running there"),
)  # fmt: skip


class PreflightError(Exception):
    pass


def probe(engine: Engine) -> list[str]:
    return commands.docker(engine, "version", "--format", "{{.Server.Version}}")


def cause(engine: Engine, output: str) -> str:
    """The one line for a failed probe."""
    user = urlsplit(engine.host).username or "the user"
    for needle, text in CAUSES:
        if needle in output:
            return f"{engine.host}: {text.format(user=user)}"
    last = output.strip().splitlines()[-1] if output.strip() else "no output"
    return f"{engine.host}: cannot reach Docker over ssh ({last})"


def check(engine: Engine, timeout: float = 30) -> None:
    """Raise PreflightError unless Docker answers on `engine` (ssh:// only; others: nothing)."""
    if not engine.is_ssh:
        return
    try:
        res = subprocess.run(probe(engine), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PreflightError(f"{engine.host}: unreachable: no answer in {timeout:.0f}s") from None
    if res.returncode != 0 or not res.stdout.strip():
        raise PreflightError(cause(engine, res.stderr + res.stdout))
