"""The commands' base: engines (local or ssh://), `docker` against them, project scripts read on
stdin, the shell line a step runs, and the image pull on the deploy engine."""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

#: scripts longer than a few lines (read once): the app container gets them as files (uploads), so
#: a step's command line stays one short line and a failure shows its cause first
SCRIPTS = Path(__file__).parent.parent / "scripts"
#: where the app container has them (`release_scripts`), outside the app root and the image's PATH
RELEASE_SCRIPTS_DIR = "/usr/local/lib/laravel-stack"
#: the files uploaded into every app container, by name
RELEASE_SCRIPTS = (
    "contract.sh",
    "artisan_batch.php",
    "fpm_reload.sh",
    "health_probe.php",
    "build_header.php",
    "maintenance.php",
    "hook.php",
)


def release_script(name: str) -> str:
    """The path of a release script inside the app container."""
    if name not in RELEASE_SCRIPTS:
        raise ValueError(f"not a release script: {name!r}")
    return f"{RELEASE_SCRIPTS_DIR}/{name}"


def release_scripts() -> dict[str, str]:
    """path in the app container -> content, for the app container's uploads."""
    return {release_script(n): (SCRIPTS / n).read_text() for n in RELEASE_SCRIPTS}


Argv = list[str]


@dataclass(frozen=True)
class Engine:
    """A Docker engine as the release reaches it: its URL, and for ssh:// the ssh options that
    pin the host key (and share one connection), the same ones the docker provider gets."""

    host: str
    ssh_options: tuple[str, ...] = ()

    @property
    def is_ssh(self) -> bool:
        return self.host.startswith("ssh://")


def ssh_options(known_hosts: Sequence[str], control_path: str | None) -> list[str]:
    """ssh options for a pinned server: only the given known_hosts lines are trusted (never the
    user's files, never trust on first use), no prompt ever; with `control_path`, one master
    connection is shared by the provider and every release step (OpenSSH >= 8.5 on the deploying
    machine, for KnownHostsCommand)."""
    # ssh expands %% to % and splits the command itself (no shell): printf prints each line.
    printf = "/usr/bin/printf '%%s\\n' " + " ".join(shlex.quote(line) for line in known_hosts)
    opts = [
        "-o", f"KnownHostsCommand={printf}",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=10",
    ]  # fmt: skip
    if control_path:
        opts += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_path}",
                 "-o", "ControlPersist=60"]  # fmt: skip
    return opts


def engine(host: str, known_hosts: Sequence[str], multiplex: bool, stack: str) -> Engine:
    if not Engine(host).is_ssh:
        return Engine(host)
    # %C: a hash of (local host, remote host, port, user); short enough for a socket path. The
    # pinned keys are part of the name: a master opened under other pins is never reused (a
    # shared connection is not verified again).
    pins = hashlib.sha256("\n".join(known_hosts).encode()).hexdigest()[:8]
    control = f"/tmp/laravel-stack-{stack}-{pins}-%C" if multiplex else None
    return Engine(host, tuple(ssh_options(known_hosts, control)))


def ssh(target: Engine, remote: Sequence[str]) -> Argv:
    """`remote` run on the ssh server (one shell line: ssh hands the server a string)."""
    url = urlsplit(target.host)
    port = ["-p", str(url.port)] if url.port else []
    return ["ssh", *target.ssh_options, *port, "-l", url.username or "", "--", url.hostname or "",
            shlex.join(remote)]  # fmt: skip


class FromScript(list[str]):
    """An argv that reads a script of this project on its stdin (`sh -s`, through ssh too):
    `script` is relative to the project root, where Pulumi runs the program and its plugins, so
    the command text is the same in every checkout and the failing line stays short."""

    def __init__(self, argv: Sequence[str], script: str):
        super().__init__(argv)
        self.script = script


def project_script(name: str) -> str:
    path = SCRIPTS / name
    if not path.is_file():
        raise ValueError(f"no script {name!r} in {SCRIPTS}")
    return f"components/scripts/{name}"


def script(*commands: Sequence[str]) -> str:
    """One shell line that runs the commands in order and stops at the first failure."""
    return " && ".join(
        shlex.join(c) + (f" < {shlex.quote(c.script)}" if isinstance(c, FromScript) else "")
        for c in commands
    )


def docker(host: Engine, *args: str) -> Argv:
    # The engine is explicit on every call so the chain always talks to the provider's engine;
    # over ssh, with the same pinned host key (and shared connection) as the provider.
    if host.is_ssh:
        return ssh(host, ["docker", *args])
    return ["docker", "--host", host.host, *args]


def docker_exec(host: Engine, container: str, user: str, argv: Sequence[str]) -> Argv:
    return docker(host, "exec", "--user", user, container, *argv)


def host_script(host: Engine, script: str, tail: Sequence[str]) -> Argv:
    """A project script run where the deploy engine's docker CLI is (`sh -s`: here, or on the
    server over ssh), its first argument the engine ("" on the server: its default)."""
    args = ["sh", "-s", "--"]
    if host.is_ssh:
        return FromScript(ssh(host, [*args, "", *tail]), project_script(script))
    return FromScript([*args, host.host, *tail], project_script(script))


def or_else(main: str, fallback: str) -> str:
    """`main`; when it fails, `fallback` (whose own exit status is the line's)."""
    return f"{{ {main}; }} || {{ {fallback}; }}"


RELEASES_MOUNT = "/releases"


def pull(host: Engine, build: str, platform: str | None) -> Argv:
    """pull.sh on the deploy engine's CLI: its text inline (stdin carries the login), without
    its comments."""
    lines = (SCRIPTS / "pull.sh").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.startswith("#"))
    args = ["sh", "-c", text, "pull.sh", build, platform or ""]
    if host.is_ssh:
        return ssh(host, args)
    return ["env", f"DOCKER_HOST={host.host}", *args]


def docker_config(server: str | None, username: str | None, password: str | None) -> str:
    """A docker CLI config holding one registry login (pull.sh's stdin); without a password an
    empty one: the CLI then pulls as the provider does, with no login."""
    if not (server and password):
        return "{}"
    auth = base64.b64encode(f"{username or ''}:{password}".encode()).decode()
    return json.dumps({"auths": {server: {"auth": auth}}}, sort_keys=True)
