"""The deploy engine's records: release events and the notify config, retention and the release
history, database backups and restores, and the parsers of their output."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .base import (
    RELEASES_MOUNT,
    Argv,
    Engine,
    docker,
    host_script,
    project_script,
)


def notify_config(host: Engine, volume: str, image: str) -> Argv:
    """Write stdin (the webhooks, a secret) into the releases volume, readable by root only;
    nothing of it is printed."""
    keep = (
        f"umask 077 && cat > {RELEASES_MOUNT}/notify.json.next && "
        f"mv {RELEASES_MOUNT}/notify.json.next {RELEASES_MOUNT}/notify.json && "
        "echo 'notify config written'"
    )
    mount = f"{volume}:{RELEASES_MOUNT}"
    return docker(host, "run", "--rm", "-i", "--pull", "never", "--network", "none",
                  "--log-driver", "none", "--user", "0", "--volume", mount,
                  "--entrypoint", "sh", image, "-c", keep)  # fmt: skip


def release_event(host: Engine, volume: str, image: str, proxy: str) -> dict[str, Any]:
    """How release_step.py records an outcome on the deploy engine (releases.sh `event`; the
    event is appended as the last argument)."""
    argv = host_script(host, "releases.sh", ["event", volume, image, proxy])
    return {"argv": list(argv), "script": project_script("releases.sh"), "ssh": host.is_ssh}


def release_interpreter(context: dict[str, Any]) -> Argv:
    """The release steps' interpreter: release_step.py runs each step's command (`sh -c`) and,
    when it fails or is the chain's last step, records and posts the outcome; its exit status
    is the command's. (The command text stays the step's own: a failure names it alone.)"""
    ctx = json.dumps(context, sort_keys=True, separators=(",", ":"))
    return ["python3", project_script("release_step.py"), ctx, "--"]


def retention(
    host: Engine,
    keep: int,
    repository: str,
    build: str,
    tag: str,
    image: str,
    backups: str = "",
    releases: str = "",
) -> Argv:
    """Record `build` (released as `tag`; "" unknown) in the deploy engine's release history and
    keep the last `keep` builds there (retention.sh); runs where that engine's docker CLI is.
    With the `backups` volume each release names its backup; with the `releases` volume the
    output carries the recorded outcomes too (`image` lists both)."""
    return host_script(
        host, "retention.sh", [str(keep), repository, build, tag, backups, image, releases]
    )


@dataclass(frozen=True)
class Database:
    """Where a stack's database and its backups are, on the deploy engine."""

    mysql: str  # the MySQL container (its env has the app user and password)
    image: str  # the database image: the one-shots that dump and restore run it
    network: str  # the stack's network (the one-shots reach MySQL there)
    database: str
    volume: str  # the backups volume
    stack: str  # project/stack, written in and checked against each backup

    def args(self) -> list[str]:
        return [self.mysql, self.image, self.network, self.database, self.volume, self.stack]


def backup(host: Engine, db: Database, build: str, keep: int) -> Argv:
    """Dump the database into the backups volume before `migrate`, keep the last `keep`
    (backup.sh); runs where the deploy engine's docker CLI is. No password on any command line."""
    return host_script(host, "backup.sh", [*db.args(), build, str(keep)])


def restore(host: Engine, db: Database, name: str) -> Argv:
    """Restore the backup `name` (restore.sh; refuses another stack's or database's backup);
    runs where the deploy engine's docker CLI is."""
    return host_script(host, "restore.sh", [*db.args(), name])


def backup_name(stdout: str) -> str:
    """The backup a release took, from the backup step's output ("": none)."""
    found = re.search(r"^backup: (\S+\.sql\.gz) \(", stdout, re.MULTILINE)
    return found.group(1) if found else ""


#: what each release of the `releases` output says
RELEASE_KEYS = ("build", "digest", "tag", "deployed", "backup", "outcome", "duration_s", "by")
#: how many recorded outcomes the `history` output shows
HISTORY_SHOWN = 20


def events(stdout: str, limit: int | None = HISTORY_SHOWN) -> list[dict[str, Any]]:
    """The recorded release outcomes in the retention step's output, newest first."""
    out = [json.loads(line[len("event: "):]) for line in stdout.splitlines()
           if line.startswith("event: {")]  # fmt: skip
    return sorted(out, key=lambda e: str(e.get("finished", "")), reverse=True)[:limit]


def history(stdout: str) -> list[dict[str, Any]]:
    """The retention step's output -> the kept builds, newest first, each with the outcome,
    duration and author of its last successful release where the history recorded one."""
    recorded = events(stdout, None)
    out = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            done = next((e for e in recorded if e.get("build") == entry.get("build")
                         and e.get("outcome") == "succeeded"), {})  # fmt: skip
            entry = {**{k: entry.get(k, "") for k in RELEASE_KEYS},
                     "outcome": done.get("outcome", ""), "duration_s": done.get("duration_s"),
                     "by": done.get("by", "")}  # fmt: skip
            out.append(entry)
    return out
