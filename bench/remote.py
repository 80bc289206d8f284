#!/usr/bin/env python3
"""Deploying to a server over SSH: one shared connection vs one connection per command.

Run after `proving-ground/bootstrap` (root: it starts the test server of
`proving-ground/remote-host`):

    venv/bin/python bench/remote.py [--changes 2] [--out bench/remote.json]

A throwaway stack (prefix `lsbremote`, port 18082 on the server) is deployed to the SSH server,
then the same code change (APP_CODE_VERSION) is released `--changes` times with
`docker.ssh_multiplex` on and off. Figures per mode: the wall time of each code-change
`pulumi up`, and the ssh logins the server accepted during it (its sshd log).
This is a script that prints figures; no test asserts timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))  # the stack settings the e2e shares
import stack_settings  # noqa: E402

NAME, PORT = "lsbremote", 18082
SSHD_LOG = Path(os.environ.get("LARAVEL_STACK_CACHE", "/var/cache/laravel-stack")) / (
    "remote-host/sshd.log"
)


def sh(*argv: str, check: bool = True, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=900, **kw)


def logins() -> int:
    return SSHD_LOG.read_text().count("Accepted publickey") if SSHD_LOG.exists() else 0


class RemoteStack:
    def __init__(self, work: Path, server: dict[str, str], agent: dict[str, str]):
        self.project = work / "project"
        for rel in filter(None, sh("git", "ls-files", "-z", cwd=REPO).stdout.split("\0")):
            dst = self.project / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dst, follow_symlinks=False)
        (self.project / "venv").symlink_to(REPO / "venv")
        shutil.copy(self.project / "Pulumi.local.yaml", self.project / "Pulumi.bremote.yaml")
        (work / "state").mkdir()
        self.env = {**os.environ, **agent, "PULUMI_BACKEND_URL": f"file://{work / 'state'}",
                    "PULUMI_CONFIG_PASSPHRASE": stack_settings.PASSPHRASE,
                    "PULUMI_SKIP_UPDATE_CHECK": "true"}  # fmt: skip
        self.pulumi("stack", "init", "bremote", stack=False)
        for key, value in stack_settings.remote(NAME, "bremote", PORT, server).items():
            self.pulumi("config", "set", "--path", key, value)

    def pulumi(self, *args: str, stack: bool = True) -> str:
        argv = ["pulumi", *args, "--non-interactive", *(["--stack", "bremote"] if stack else [])]
        return sh(*argv, cwd=self.project, env=self.env).stdout

    def release(self, version: str) -> tuple[float, int]:
        self.pulumi("config", "set", "--path", "image.build_args.APP_CODE_VERSION", version)
        before, t0 = logins(), time.monotonic()
        self.pulumi("up", "--yes", "--skip-preview")
        return time.monotonic() - t0, logins() - before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--changes", type=int, default=2, help="code changes per mode (default 2)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "remote.json")
    args = ap.parse_args()
    out = sh("bash", str(REPO / "proving-ground/remote-host"), "up").stdout
    server = {
        k: v.strip("'") for k, v in (ln.split("=", 1) for ln in out.splitlines() if "=" in ln)
    }
    agent = dict(p.split("=", 1) for p in sh("ssh-agent", "-s").stdout.replace(";", "\n").split()
                 if p.startswith(("SSH_AUTH_SOCK=", "SSH_AGENT_PID=")))  # fmt: skip
    sh("ssh-add", "-q", server["REMOTE_KEY"], env={**os.environ, **agent})
    results: dict[str, dict[str, Any]] = {}
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        stack = RemoteStack(Path(tmp), server, agent)
        try:
            stack.release("b0")
            for mode, multiplex in (
                ("one shared connection", "true"),
                ("one per command", "false"),
            ):
                stack.pulumi("config", "set", "--path", "docker.ssh_multiplex", multiplex)
                stack.release(f"b{(n := n + 1)}")  # the setting's own release, not measured
                runs = [stack.release(f"b{(n := n + 1)}") for _ in range(args.changes)]
                results[mode] = {
                    "deploy_s": [round(s, 2) for s, _ in runs],
                    "median_deploy_s": round(statistics.median(s for s, _ in runs), 2),
                    "ssh_logins": [c for _, c in runs],
                }
        finally:
            stack.pulumi("destroy", "--yes")
            sh("pkill", "-f", f"laravel-stack-{NAME}-", check=False)
            os.kill(int(agent["SSH_AGENT_PID"]), signal.SIGTERM)
    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "change": "APP_CODE_VERSION",
              "results": results}  # fmt: skip
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'':24}{'median deploy (s)':>20}{'deploys (s)':>20}{'ssh logins':>16}")
    for mode, r in results.items():
        print(f"{mode:24}{r['median_deploy_s']:>20}{' '.join(map(str, r['deploy_s'])):>20}"
              f"{' '.join(map(str, r['ssh_logins'])):>16}")  # fmt: skip


if __name__ == "__main__":
    main()
