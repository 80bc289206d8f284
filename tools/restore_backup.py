"""Restore one of the stack's release backups into its database.

    scripts/restore-backup [--stack NAME] --list
    scripts/restore-backup [--stack NAME] BACKUP --yes-overwrite-the-database

BACKUP is a name from the `releases` output (each release names the dump taken before its
migrations) or from --list. The restore replaces the database whole: every row written since
the backup is gone, so it never runs without the confirmation flag. It refuses a backup of
another stack or database. Run it from the project directory (it reads the stack's `backups`
output with `pulumi stack output`); over ssh it dials the server with the stack's pinned keys.
README "Backups and restore" says in which order to restore and roll back the code.
Exit status: 0 restored (or listed); 1 refused or failed; 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from components import commands

ROOT = Path(__file__).resolve().parent.parent
CONFIRM = "--yes-overwrite-the-database"


def stack_backups(stack: str | None) -> dict[str, Any]:
    argv = ["pulumi", "stack", "output", "backups", "--json"]
    if stack:
        argv += ["--stack", stack]
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"restore-backup: cannot read the stack's backups output: {out.stderr}")
    info = json.loads(out.stdout or "null")
    if not isinstance(info, dict) or not info.get("volume"):
        raise SystemExit("restore-backup: this stack takes no backups (release.backup is off)")
    return info


def main(argv: list[str]) -> int:
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="scripts/restore-backup", description=summary)
    parser.add_argument("backup", nargs="?", help="the backup's name (TIME-BUILD.sql.gz)")
    parser.add_argument("--stack", help="the Pulumi stack (default: the selected one)")
    parser.add_argument("--list", action="store_true", help="list the backups, newest first")
    parser.add_argument(CONFIRM, dest="confirmed", action="store_true",
                        help="needed to restore: the database is replaced whole")  # fmt: skip
    args = parser.parse_args(argv)
    if not args.list and not args.backup:
        parser.error("name a backup (see --list)")
    if args.backup and not args.confirmed:
        parser.error(f"restoring replaces the database whole: add {CONFIRM} to go ahead")
    info = stack_backups(args.stack)
    stack = str(info["stack"])
    host = info["engine"] or "unix:///var/run/docker.sock"
    engine = commands.engine(host, info["known_hosts"], False, stack.replace("/", "-"))
    if args.list:
        ls = commands.docker(engine, "run", "--rm", "--pull", "never", "--network", "none",
                             "--volume", f"{info['volume']}:/backups:ro", "--entrypoint", "ls",
                             str(info["image"]), "-1r", "/backups")  # fmt: skip
        return subprocess.run(ls, cwd=ROOT).returncode
    db = commands.Database(info["mysql"], info["image"], info["network"], info["database"],
                           info["volume"], stack)  # fmt: skip
    line = commands.script(commands.restore(engine, db, args.backup))
    return subprocess.run(["sh", "-c", line], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
