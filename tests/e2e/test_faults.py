"""Faults during a release (issue 23, first cases): the registry down, MySQL crashing during
`migrate`, two `pulumi up` at once. Each case runs a code-change release under 20 req/s on
/up and a writer that inserts one row a request through the app (`/db`, 5 a second, every id
it was answered with counted as acknowledged), injects its fault at a named point (the chain's
step seen in the engine's live events), and records: failed requests, acknowledged rows missing
afterwards, what recovery took, and the seconds until the site serves the right build again.
The stack is shared between the cases: each leaves it healthy for the next.

Stack `e2e-faults`, prefix `lsflt`, port 18088, its own repository, on this machine's engine.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    REPO,
    EngineEvents,
    Load,
    Pulumi,
    docker_cleanup,
    http,
    new_project,
    sh,
    wait_for,
)

STACK = "e2e-faults"
NAME = "lsflt"
PORT = 18088
BASE = f"http://127.0.0.1:{PORT}"
CACHE = os.environ.get("LARAVEL_STACK_CACHE", "/var/cache/laravel-stack")
#: what each case measured, printed at the end of the module (README's fault table)
FIGURES: dict[str, dict[str, Any]] = {}


class Writer:
    """Rows inserted through the app at a fixed rate (bounded in time): the ids the app
    acknowledged, and how many requests failed."""

    def __init__(self, rate: float = 5, limit_s: float = 900):
        self.rate, self.limit_s = rate, limit_s
        self.acked: list[int] = []
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + self.limit_s
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                status, body = http("/db", timeout=3, base=BASE)
                if status == 200 and isinstance(body, dict) and body.get("last"):
                    self.acked.append(int(body["last"]["id"]))
                else:
                    self.failed += 1
            except Exception:  # a refused or dropped connection is a failed write too
                self.failed += 1
            self._stop.wait(1 / self.rate)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def rows() -> set[int]:
    out = sh("docker", "exec", f"{NAME}-mysql", "sh", "-c",
             'mysql -N -uroot -p"$MYSQL_ROOT_PASSWORD" laravel -e "SELECT id FROM visits"',
             timeout=60)  # fmt: skip
    return {int(x) for x in out.stdout.split()}


def served() -> str:
    status, body = http("/up", base=BASE)
    assert status == 200 and isinstance(body, dict), (status, body)
    return str(body["build"])


def containers() -> dict[str, str]:
    """The stack's containers: name -> id."""
    out = sh("docker", "ps", "-a", "--filter", f"label=laravel-stack.stack={NAME}",
             "--format", "{{.Names}} {{.ID}}").stdout  # fmt: skip
    return dict(line.split() for line in out.splitlines())


@pytest.fixture(scope="module")
def faults(tmp_path_factory) -> Iterator[Pulumi]:
    sh("docker", "info")
    docker_cleanup(NAME)
    p = new_project(tmp_path_factory, STACK)
    p.set("name", NAME)
    p.set("web.port", str(PORT))
    p.up()
    yield p
    print("\nfault figures:")
    for case, fig in FIGURES.items():
        print(f"  {case}: {fig}")
    p.run("destroy", "--yes", check=False)
    docker_cleanup(NAME)


def release(p: Pulumi, version: str) -> None:
    p.set("image.build_args.APP_CODE_VERSION", version)


def test_the_registry_down_fails_before_any_container_changes(faults):
    old, before = served(), containers()
    release(faults, "r2")
    pid = Path(f"{CACHE}/registry-auth.pid").read_text().strip()
    sh("kill", pid)
    wait_for(lambda: subprocess.run(["curl", "-s", "http://127.0.0.1:5001/v2/"],
                                    capture_output=True).returncode != 0,
             timeout=30, what="the registry to stop")  # fmt: skip
    try:
        with Load(rate=20, base=BASE) as load, Writer() as writer:
            res = faults.up(check=False)
    finally:
        t0 = time.monotonic()
        sh("bash", str(REPO / "scripts/bootstrap-docker.sh"), timeout=600)
        back = time.monotonic() - t0
    text = res.stdout + res.stderr
    assert res.returncode != 0
    assert "127.0.0.1:5001" in text and "connection refused" in text, text[-3000:]
    assert containers() == before  # nothing replaced, nothing started
    assert load.failures(old) == {} and writer.failed == 0, (load.builds, writer.failed)
    assert set(writer.acked) <= rows()
    faults.up()  # the registry is back: converges
    assert served() != old
    FIGURES["registry down"] = {"failed requests": 0, "missing rows": 0,
                                "registry restart s": round(back, 1), "recovery": "up"}  # fmt: skip


def test_mysql_crashing_during_migrate_loses_no_acknowledged_row(faults):
    old = served()
    slow = faults.project / "examples/laravel-app/database/migrations/2099_01_01_000000_slow.php"
    slow.write_text(
        "<?php\nuse Illuminate\\Database\\Migrations\\Migration;\n"
        "use Illuminate\\Support\\Facades\\DB;\n"
        "return new class extends Migration {\n"
        "    public function up() { DB::statement('SELECT SLEEP(20)'); }\n"
        "};\n"
    )
    release(faults, "m2")
    with EngineEvents(name=NAME) as recorded, Load(rate=20, base=BASE) as load, Writer() as w:
        argv = ["pulumi", "up", "--yes", "--skip-preview", *faults.policy, "--stack",
                faults.stack, "--non-interactive"]  # fmt: skip
        proc = subprocess.Popen(argv, cwd=faults.project, env=faults.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        wait_for(lambda: any("php artisan migrate --force" in x for x in recorded.lines),
                 timeout=600, interval=0.2, what="the chain's migrate")  # fmt: skip
        time.sleep(2)  # inside the migration's statement
        # A crash, not `docker kill` (which Docker counts as a stop by hand: no restart).
        pid = sh("docker", "inspect", "--format", "{{.State.Pid}}", f"{NAME}-mysql").stdout
        killed_at = time.monotonic()
        sh("kill", "-9", pid.strip())
        out, _ = proc.communicate(timeout=900)
        failed_up = proc.returncode

        def writes_again() -> bool:
            return http("/db/count", timeout=3, base=BASE)[0] == 200

        wait_for(writes_again, timeout=180, interval=0.5, what="MySQL back by its restart policy")
        recovered = time.monotonic() - killed_at
        time.sleep(2)
    assert failed_up != 0, out[-3000:]
    assert "migrate" in out, out[-3000:]
    assert served() == old  # the old build serves, MySQL restarted by itself
    missing = set(w.acked) - rows()
    assert missing == set(), missing
    # /up does not touch the database: no request on it failed
    assert load.failures(old) == {}, load.builds
    faults.up()  # the same build again: its migration now runs to the end
    new = served()
    assert new != old
    slow.unlink()
    FIGURES["mysql killed during migrate"] = {
        "failed /up requests": 0, "failed writes": w.failed, "acknowledged": len(w.acked),
        "missing rows": 0, "seconds until writes succeed": round(recovered, 1),
        "recovery": "up",
    }  # fmt: skip


def test_a_second_up_at_once_is_refused_by_the_lock(faults):
    old = served()
    release(faults, "l2")
    argv = ["pulumi", "up", "--yes", "--skip-preview", *faults.policy, "--stack", faults.stack,
            "--non-interactive"]  # fmt: skip
    with Load(rate=20, base=BASE) as load, Writer() as writer:
        first = subprocess.Popen(argv, cwd=faults.project, env=faults.env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        lock = faults.project.parent / "state" / ".pulumi" / "locks"
        wait_for(lambda: lock.is_dir() and any(lock.rglob("*.json")), timeout=120,
                 interval=0.2, what="the first up's lock")  # fmt: skip
        second = faults.run("up", "--yes", "--skip-preview", check=False)
        out, _ = first.communicate(timeout=900)
    text = second.stdout + second.stderr
    assert second.returncode != 0 and "locked" in text.lower(), text[-2000:]
    # refused before it planned anything: no resource operation in its output
    assert "Resources:" not in text and "Updating (" not in text, text[-2000:]
    assert first.returncode == 0, out[-3000:]
    new = served()
    assert new != old
    assert load.failures(old, new) == {} and writer.failed == 0, (load.builds, writer.failed)
    assert set(writer.acked) <= rows()
    FIGURES["two ups at once"] = {"failed requests": 0, "missing rows": 0, "recovery": "none"}
