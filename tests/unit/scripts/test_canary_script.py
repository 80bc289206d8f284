"""components/scripts/canary.sh with fake php and a fake web command on PATH: the task chain
runs, then the command, and the probe decides the exit status; the command never outlives it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPTS = Path(__file__).parents[3] / "components" / "scripts"
BUILD = "r@sha256:" + "d" * 64


def setup(tmp_path: Path, probe_ok: bool, fail_rc: int = 1) -> tuple[Path, Path]:
    files = tmp_path / "files"
    files.mkdir()
    for name in ("canary.sh", "task_start.sh"):
        shutil.copy(SCRIPTS / name, files / name)
    (files / "secret.env").write_text("DB_PASSWORD='s3 cret'\n")
    bin_dir, log = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    # the probe (health_probe.php retries until FPM answers): passes once the command started
    ok = f"for _ in $(seq 50); do grep -q ^fpm {log} && exit 0; sleep 0.2; done; exit 1"
    probe = ok if probe_ok else f'echo "attempt 1/1: HTTP 500" >&2; exit {fail_rc}'
    fakes = {
        # artisan batches pass; the probe (health_probe.php) passes or fails
        "php": f'echo "php $*" >> {log}\ncase "$1" in *health_probe.php) {probe} ;; esac\n',
        "fpm": f'echo "fpm $* DB_PASSWORD=$DB_PASSWORD" >> {log}\nexec sleep 30\n',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    return files, bin_dir


def run(files: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    uid, gid = str(os.getuid()), str(os.getgid())
    args = [str(files), "fcgi://127.0.0.1:9000/up", "200", "build", BUILD, "1", "0", "5",
            "/app/public/index.php", uid, gid, "--", "fpm", "-F"]  # fmt: skip
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "APP_BUILD": BUILD}
    return subprocess.run(["sh", str(files / "canary.sh"), *args], capture_output=True,
                          text=True, env=env, timeout=20, check=False)  # fmt: skip


def test_a_build_that_proves_itself_passes_after_its_chain_and_its_command_is_stopped(tmp_path):
    files, bin_dir = setup(tmp_path, probe_ok=True)
    res = run(files, bin_dir)
    assert res.returncode == 0, res.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    chain = [c for c in calls if "artisan_batch.php" in c or c.startswith("fpm")]
    assert chain[0].endswith("config:clear route:clear view:clear event:clear")
    assert chain[1].endswith("config:cache route:cache view:cache event:cache")
    assert chain[2] == "fpm -F DB_PASSWORD=s3 cret"  # after the chain, with the secret env
    assert any(c.startswith(f"php {files}/health_probe.php fcgi://127.0.0.1:9000/up 200 build "
                            f"{BUILD}") for c in calls)  # fmt: skip
    assert subprocess.run(["pgrep", "-f", f"{bin_dir}/fpm"], check=False).returncode != 0


def test_a_build_that_fails_its_probe_fails_the_canary_with_the_cause(tmp_path):
    files, bin_dir = setup(tmp_path, probe_ok=False)
    res = run(files, bin_dir)
    assert res.returncode == 1
    assert "attempt 1/1: HTTP 500" in res.stderr
    assert "canary: health check failed" in res.stderr


def test_a_build_that_answers_a_wrong_status_is_not_called_another_build(tmp_path):
    # the probe's exit 3: no answer or a wrong status (its verdict and the app's log are above)
    files, bin_dir = setup(tmp_path, probe_ok=False, fail_rc=3)
    res = run(files, bin_dir)
    assert res.returncode == 3
    assert "canary: the new build does not answer its health check as it should" in res.stderr
    assert "does not serve its own build" not in res.stderr


def test_usage_is_refused_without_the_separator(tmp_path):
    res = subprocess.run(["sh", str(SCRIPTS / "canary.sh"), "x"], capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert res.returncode == 2 and "usage: canary.sh" in res.stderr
