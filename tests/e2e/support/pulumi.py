"""The real `pulumi` CLI on a copy of the project: a stack of a suite's own (file backend), its
commands timed into LARAVEL_STACK_TIMINGS_LOG and, with `scripts/test --upstream/--cross`, every
`up` previewed with the other plugins."""

from __future__ import annotations

import fcntl
import json
import os
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack_settings import PASSPHRASE

from .local import STACK
from .shell import sh

REPO = Path(__file__).resolve().parents[3]


#: set by `scripts/test --upstream DIR` (the stand-ins) or `--cross DIR` (the upstream plugins):
#: the other plugins, which must preview every stack these tests deploy as no change
CROSS_PATH = os.environ.get("LARAVEL_STACK_CROSS_PATH", "")
CROSS_HOME = os.environ.get("LARAVEL_STACK_CROSS_HOME", "")
#: one line per cross check that passed (scripts/test counts them)
CROSS_LOG = os.environ.get("LARAVEL_STACK_CROSS_LOG", "")
#: one JSON line per `pulumi` command the suites run: wall and CPU seconds (scripts/test sums them)
TIMINGS_LOG = os.environ.get("LARAVEL_STACK_TIMINGS_LOG", "")


def children_cpu() -> float:
    """CPU seconds of the waited-for child processes so far (a `pulumi` run: the CLI, the
    language host, the plugins and the commands they ran)."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def append_line(path: str, line: str) -> None:
    """One whole line at the end of `path`, whatever other suites append at the same time."""
    with open(path, "a") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        log.write(line + "\n")


@dataclass
class Pulumi:
    project: Path
    env: dict[str, str]
    stack: str = STACK
    #: every preview and up runs the guardrails, as the workflows do
    policy: tuple[str, ...] = ()

    def run(
        self, *args: str, check: bool = True, timeout: float = 1200
    ) -> subprocess.CompletedProcess:
        policy = self.policy if args[0] in ("up", "preview") else ()
        t0, cpu0 = time.monotonic(), children_cpu()
        res = subprocess.run(
            ["pulumi", *args, *policy, "--stack", self.stack, "--non-interactive"],
            cwd=self.project, env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if TIMINGS_LOG:
            record = {"stack": self.stack, "command": args[0], "wall_s": time.monotonic() - t0,
                      "cpu_s": children_cpu() - cpu0,
                      "test": os.environ.get("PYTEST_CURRENT_TEST", "")}  # fmt: skip
            append_line(TIMINGS_LOG, json.dumps(record))
        if check and res.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {res.returncode}\n--- stdout\n{res.stdout[-6000:]}"
                f"\n--- stderr\n{res.stderr[-4000:]}"
            )
        return res

    def up(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        res = self.run("up", "--yes", "--skip-preview", "--diff", *extra, check=check)
        if res.returncode == 0 and CROSS_PATH:
            self.cross_check()
        return res

    def cross_check(self) -> None:
        """The stack these plugins just deployed, previewed with the other plugins (stand-ins or
        upstream): no change, or a user switching plugins would get replacements."""
        other = {**self.env, "PATH": f"{CROSS_PATH}:{self.env['PATH']}", "PULUMI_HOME": CROSS_HOME}
        res = subprocess.run(
            ["pulumi", "preview", "--expect-no-changes", "--diff", *self.policy,
             "--stack", self.stack, "--non-interactive"],
            cwd=self.project, env=other, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if res.returncode != 0:
            raise AssertionError(
                f"cross check: the other plugins ({CROSS_HOME}) plan changes to stack "
                f"{self.stack}:\n{res.stdout[-6000:]}\n{res.stderr[-3000:]}"
            )
        if CROSS_LOG:
            append_line(CROSS_LOG, f"{self.stack}: no changes with {CROSS_HOME}")

    def set(self, path: str, value: str) -> None:
        self.run("config", "set", "--path", path, value)

    def rm(self, path: str) -> None:
        self.run("config", "rm", "--path", path, check=False)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json").stdout)

    def preview(self, *extra: str) -> dict[str, Any]:
        return json.loads(self.run("preview", "--json", "--diff", *extra).stdout)

    def preview_steps(self) -> list[dict[str, Any]]:
        return self.preview().get("steps", [])

    def state(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "export").stdout)


def new_project(tmp_path_factory, stack: str, base_config: str = "Pulumi.local.yaml") -> Pulumi:
    """A copy of the tracked project with a new stack (file backend in the copy's folder)."""
    for tool in ("pulumi", "docker"):
        assert shutil.which(tool), f"{tool} not on PATH: run proving-ground/bootstrap"
    work = tmp_path_factory.mktemp(stack)
    project = work / "project"
    # A copy of the tracked project, so tests may edit the example app like a developer would.
    files = sh("git", "ls-files", "-z", cwd=REPO).stdout.split("\0")
    for rel in filter(None, files):
        dst = project / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dst, follow_symlinks=False)
    (project / "venv").symlink_to(REPO / "venv")
    # The suite's own builds: a file only its images hold. The same context as another stack's
    # (the user's local stack) gives the same image, which that stack's container keeps alive
    # against this suite's retention.
    for app in ("laravel-app", "laravel10-app", "laravel13-app"):
        marker = project / f"examples/{app}/config/e2e_suite.php"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"<?php\n\nreturn ['stack' => {json.dumps(stack)}];\n")
    shutil.copy(project / base_config, project / f"Pulumi.{stack}.yaml")
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{work / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "NO_COLOR": "1",
    }
    (work / "state").mkdir()
    sh("pulumi", "stack", "init", stack, "--non-interactive", cwd=project, env=env)
    # The test stacks are local ones: their database volume may stay unprotected.
    policy_config = work / "policy-config.json"
    policy_config.write_text(json.dumps({"database-volume-kept": {"local_stacks": [stack]}}))
    policy = ("--policy-pack", str(project / "policy"), "--policy-pack-config", str(policy_config))
    p = Pulumi(project, env, stack, policy)
    # A repository of its own: retention keeps the last builds per repository, and must never
    # touch another stack's (the user's local stack's) kept builds.
    p.set("image.repository", f"127.0.0.1:5001/laravel-stack/{stack}")
    return p
