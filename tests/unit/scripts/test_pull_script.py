"""components/scripts/pull.sh with a fake docker CLI on PATH: the build already on the engine is
not pulled, a pull gets the login on stdin as its DOCKER_CONFIG (removed afterwards), and a
failed pull is one line with the engine's own reason (a full disk above all)."""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
from pathlib import Path

from components import commands
from components.commands import Engine

PULL_SH = Path(__file__).parents[3] / "components" / "scripts" / "pull.sh"
BUILD = "registry.example.com/acme/shop@sha256:" + "ab" * 32
FULL = "write /var/lib/docker/tmp/GetImageBlob1: no space left on device"


def fake_docker(tmp_path: Path, present: bool, pull_error: str = "") -> Path:
    """A docker CLI that records its calls, the config it was given, and fails as told."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    (bin_dir / "docker").write_text(
        "#!/bin/sh\n"
        f'echo "$* DOCKER_CONFIG=${{DOCKER_CONFIG:-}} DOCKER_HOST=${{DOCKER_HOST:-}}" >> {log}\n'
        'case "$1" in\n'
        f"  image) exit {0 if present else 1} ;;\n"
        f'  pull) cp "$DOCKER_CONFIG/config.json" {tmp_path}/seen.json\n'
        + (f"    echo {shlex.quote(pull_error)} >&2; exit 1 ;;\n" if pull_error else "    ;;\n")
        + "esac\n"
    )
    (bin_dir / "docker").chmod(0o755)
    return bin_dir


def run(tmp_path: Path, bin_dir: Path, stdin: str, host: str = "unix:///run/e.sock"):
    argv = commands.pull(Engine(host), BUILD, "linux/amd64")
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin",
                               "TMPDIR": str(tmp_path)}, check=False)  # fmt: skip


def calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls").read_text().splitlines()


def test_the_script_is_posix_sh():
    subprocess.run(["sh", "-n", str(PULL_SH)], check=True)


def test_a_build_the_engine_holds_is_not_pulled(tmp_path: Path):
    res = run(tmp_path, fake_docker(tmp_path, present=True), "{}")
    assert res.returncode == 0, res.stderr
    assert [c.split()[:3] for c in calls(tmp_path)] == [["image", "inspect", BUILD]]
    assert "DOCKER_HOST=unix:///run/e.sock" in calls(tmp_path)[0]


def test_a_pull_uses_the_login_from_stdin_and_leaves_nothing_behind(tmp_path: Path):
    config = commands.docker_config("registry.example.com", "ci", "s3cret")
    res = run(tmp_path, fake_docker(tmp_path, present=False), config)
    assert res.returncode == 0, res.stderr
    assert res.stdout == res.stderr == ""
    pull = calls(tmp_path)[1]
    assert pull.startswith(f"pull --quiet --platform linux/amd64 {BUILD} DOCKER_CONFIG=")
    seen = json.loads((tmp_path / "seen.json").read_text())
    auth = seen["auths"]["registry.example.com"]["auth"]
    assert base64.b64decode(auth).decode() == "ci:s3cret"
    # The private config is gone: only the fake's own files are left in TMPDIR.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "calls", "seen.json"]


def test_a_full_disk_is_one_line_naming_the_space(tmp_path: Path):
    bin_dir = fake_docker(tmp_path, present=False, pull_error=FULL)
    res = run(tmp_path, bin_dir, commands.docker_config("registry.example.com", "ci", "s3cret"))
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        f"laravel-stack: the deploy engine could not pull {BUILD}: {FULL} "
    ]
    assert "s3cret" not in res.stderr + res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "calls", "seen.json"]


def test_without_a_registry_password_the_pull_has_no_login():
    assert commands.docker_config("registry.example.com", None, None) == "{}"
    assert commands.docker_config(None, None, None) == "{}"


def test_over_ssh_the_server_runs_it_with_its_own_engine():
    host = Engine("ssh://deploy@203.0.113.7", ("-o", "BatchMode=yes"))
    argv = commands.pull(host, BUILD, None)
    assert argv[:3] == ["ssh", "-o", "BatchMode=yes"]
    remote = shlex.split(argv[-1])
    assert remote[:2] == ["sh", "-c"] and remote[3:] == ["pull.sh", BUILD, ""]
    assert "DOCKER_HOST" not in argv[-1] and "--host" not in argv[-1]
    assert os.path.basename(str(PULL_SH)) == remote[3]
