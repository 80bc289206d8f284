"""components/scripts/task_start.sh with fake php and setpriv on PATH: the caches are cleared,
then rebuilt, as the web user, and only then is the task's command exec'd; a failing artisan
batch ends the task before its command runs. (On a real Swarm: tests/e2e/test_swarm_cluster.py.)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).parents[3] / "components" / "scripts" / "task_start.sh"


def fakes(tmp_path: Path, fail_on: str = "") -> Path:
    """php records each call (and fails for a batch naming `fail_on`); setpriv records its
    uid/gid and runs the rest; the task's command records that it ran."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    scripts = {
        "php": f'echo "php $(id -u) $*" >> {log}\n'
        + (f'case "$*" in *{fail_on}*) echo "boom in $*" >&2; exit 1 ;; esac\n' if fail_on else ""),
        "setpriv": f'echo "setpriv $1 $2" >> {log}\nshift 4\nexec "$@"\n',
        "fpm": f'echo "fpm $*" >> {log}\n',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def run(tmp_path: Path, bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "APP_BUILD": "r@sha256:" + "c" * 64}
    return subprocess.run(["sh", str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=30, check=False)  # fmt: skip


def calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls").read_text().splitlines()


def test_the_script_is_posix_sh():
    subprocess.run(["sh", "-n", str(SCRIPT)], check=True)


def test_clear_then_rebuild_as_the_web_user_then_the_command(tmp_path: Path):
    uid = os.getuid()
    res = run(tmp_path, fakes(tmp_path), "33", "33", "--", "fpm", "--nodaemonize")
    assert res.returncode == 0, res.stderr
    batch = f"{SCRIPT.parent}/artisan_batch.php"
    me = [] if uid == 33 else ["setpriv --reuid=33 --regid=33"]
    assert calls(tmp_path) == [
        *me, f"php {uid} {batch} config:clear route:clear view:clear event:clear",
        *me, f"php {uid} {batch} config:cache route:cache view:cache event:cache",
        "fpm --nodaemonize",
    ]  # fmt: skip
    assert f"caches cleared and rebuilt for r@sha256:{'c' * 64}; starting fpm" in res.stdout


def test_a_failing_rebuild_ends_the_task_before_its_command(tmp_path: Path):
    res = run(tmp_path, fakes(tmp_path, fail_on="config:cache"), "33", "33", "--", "fpm")
    assert res.returncode == 1
    assert "boom in" in res.stderr and "task start: rebuilding the caches failed" in res.stderr
    assert not [c for c in calls(tmp_path) if c.startswith("fpm")]


def test_a_failing_clear_never_rebuilds(tmp_path: Path):
    res = run(tmp_path, fakes(tmp_path, fail_on="config:clear"), "33", "33", "--", "fpm")
    assert res.returncode == 1 and "task start: clearing the caches failed" in res.stderr
    assert not [c for c in calls(tmp_path) if "config:cache" in c or c.startswith("fpm")]


def test_usage(tmp_path: Path):
    res = run(tmp_path, fakes(tmp_path), "33", "33", "fpm")
    assert res.returncode == 2 and "usage: task_start.sh" in res.stderr


def test_a_stop_signal_reaches_the_command_only_after_the_drain_delay(tmp_path):
    """LARAVEL_STACK_DRAIN_SECONDS: the task keeps serving while nginx's resolver still knows
    it; the command then gets the same signal and the task exits with its status."""
    import signal
    import sys
    import time

    bin_dir = fakes(tmp_path)
    log = tmp_path / "calls"
    # Python, not sh: like PHP-FPM it installs its own handler (sh cannot trap a signal it was
    # started with ignored, as a background command is)
    (bin_dir / "fpm").write_text(
        f"#!{sys.executable}\n"
        "import signal, sys, time\n"
        f"log = open({str(log)!r}, 'a', buffering=1)\n"
        "def stop(*_):\n"
        "    log.write(f'fpm QUIT {time.time()}\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGQUIT, stop)\n"
        "log.write('fpm up\\n')\n"
        "while True: time.sleep(0.1)\n"
    )
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "APP_BUILD": "r@sha256:" + "c" * 64,
           "LARAVEL_STACK_DRAIN_SECONDS": "2"}  # fmt: skip
    uid, gid = str(os.getuid()), str(os.getgid())

    # With the signal dispositions a container's first process gets: a test run in the
    # background of a non-interactive shell inherits SIGQUIT ignored, and sh cannot trap it then.
    def as_a_container_starts_it() -> None:
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)

    proc = subprocess.Popen(["sh", str(SCRIPT), uid, gid, "--", "fpm"], env=env,
                            preexec_fn=as_a_container_starts_it)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while "fpm up" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.1)
        sent = time.time()
        proc.send_signal(signal.SIGQUIT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:  # never leave the fake command running
            subprocess.run(["pkill", "-KILL", "-f", str(bin_dir / "fpm")], check=False)
            proc.kill()
    quit_at = float(next(c for c in calls(tmp_path) if c.startswith("fpm QUIT")).split()[2])
    assert quit_at - sent >= 1.9  # served on for the drain, then stopped gracefully
