"""Faults during a release (issue 23): the registry down, MySQL crashing during `migrate`, two
`pulumi up` at once, the engine restarted between two steps of the chain. Each case runs a code-
change release under 20 req/s on /up and a writer that inserts one row a request through the app
(`/db`, 5 a second, every id it was answered with counted as acknowledged), injects its fault at
a named point (the chain's step seen in the engine's live events), and records: failed requests,
acknowledged rows missing afterwards, what recovery took, and the seconds until the site serves
the right build again. The stack is shared between the cases: each leaves it healthy for the
next.

Stack `e2e-faults`, prefix `lsflt`, port 18088, on an engine of its own: the SSH test server's
(proving-ground/remote-host), through its socket as a local engine is reached, so that its
restarts stop no other suite (tests/conftest.py runs the remote suite, which uses that server
too, before this one). Its images go to a registry of its own, 127.0.0.1:5002, which the
registry case stops. The images are built on this machine's engine, as for every stack. The
host reboot case on this machine's engine is the local suite's (test_local_stack.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .support.engine import docker_cleanup, restart_engine, stack_container_states
from .support.events import PROBE, SCRIPTS, EngineEvents
from .support.http import http, wait_for
from .support.load import Load, Writer, print_figures
from .support.pulumi import REPO, Pulumi, new_project
from .support.shell import sh, signal_tree

STACK = "e2e-faults"
NAME = "lsflt"
PORT = 18088
#: the SSH test server's address (proving-ground/remote-host env: REMOTE_ADDRESS)
SERVER = "10.231.0.2"
BASE = f"http://{SERVER}:{PORT}"
#: the suite's own registry (the server reaches it as 127.0.0.1:5002 too)
REGISTRY = "127.0.0.1:5002"
CACHE = os.environ.get("LARAVEL_STACK_CACHE", "/var/cache/laravel-stack")
#: what each case measured, printed at the end of the module (README's fault table)
FIGURES: dict[str, dict[str, Any]] = {}


def rows() -> set[int]:
    out = sh("docker", "exec", f"{NAME}-mysql", "sh", "-c",
             'mysql -N -uroot -p"$MYSQL_ROOT_PASSWORD" laravel -e "SELECT id FROM visits"',
             timeout=60)  # fmt: skip
    return {int(x) for x in out.stdout.split()}


def migration_sleeping() -> bool:
    """The slow migration's statement is running in MySQL."""
    out = sh("docker", "exec", f"{NAME}-mysql", "sh", "-c",
             'mysql -N -uroot -p"$MYSQL_ROOT_PASSWORD" -e "SELECT COUNT(*) FROM '
             "information_schema.processlist WHERE info LIKE 'SELECT SLEEP(20)%'\"",
             timeout=60, check=False)  # fmt: skip
    return out.stdout.strip() not in ("", "0")


def served() -> str:
    status, body = http("/up", base=BASE)
    assert status == 200 and isinstance(body, dict), (status, body)
    return str(body["build"])


def containers() -> dict[str, str]:
    """The stack's containers: name -> id."""
    out = sh("docker", "ps", "-a", "--filter", f"label=laravel-stack.stack={NAME}",
             "--format", "{{.Names}} {{.ID}}").stdout  # fmt: skip
    return dict(line.split() for line in out.splitlines())


class Registry:
    """The suite's own registry (Debian's docker-registry), with the login of the project's
    registry that needs one (the same htpasswd file): started, and stopped by the registry case."""

    def __init__(self, root: Path):
        self.config = root / "config.yml"
        self.config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
            "auth:\n  htpasswd:\n    realm: laravel-stack-faults\n"
            f"    path: {CACHE}/registry-auth/htpasswd\nhttp:\n  addr: {REGISTRY}\n"
        )
        self.log = root / "registry.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def answers(self) -> bool:
        return sh("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                  f"http://{REGISTRY}/v2/", check=False).stdout == "401"  # fmt: skip

    def start(self) -> None:
        argv = ["docker-registry", "serve", str(self.config)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        wait_for(self.answers, timeout=30, interval=0.2, what=f"the registry on {REGISTRY}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Iterator[Registry]:
    r = Registry(tmp_path_factory.mktemp("registry"))
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def faults(tmp_path_factory, registry) -> Iterator[Pulumi]:
    out = sh("bash", str(REPO / "proving-ground/remote-host"), "up", timeout=180).stdout
    server = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert server["REMOTE_ADDRESS"] == SERVER, server
    # Pulumi builds on this machine's engine (its env has no DOCKER_HOST); the stack deploys to
    # the server's, and the test's own docker commands (and docker_cleanup, the events) read it.
    p = new_project(tmp_path_factory, STACK)
    os.environ["DOCKER_HOST"] = server["REMOTE_DOCKER_HOST"]
    try:
        sh("docker", "info")
        docker_cleanup(NAME)
        p.set("name", NAME)
        p.set("docker.host", server["REMOTE_DOCKER_HOST"])
        p.set("web.host", SERVER)
        p.set("web.port", str(PORT))
        p.set("image.repository", f"{REGISTRY}/laravel-stack/{STACK}")
        p.set("registry.server", REGISTRY)
        p.up()
        yield p
        print_figures("fault figures", FIGURES)
        p.run("destroy", "--yes", check=False)
        docker_cleanup(NAME)
    finally:
        del os.environ["DOCKER_HOST"]
        sh("bash", str(REPO / "proving-ground/remote-host"), "down", timeout=120)


def release(p: Pulumi, version: str) -> None:
    p.set("image.build_args.APP_CODE_VERSION", version)


def get(path: str) -> tuple[int, Any]:
    return http(path, base=BASE)


def proxy_upstream() -> str:
    """The app container the proxy passes requests to."""
    conf = sh("docker", "exec", f"{NAME}-web", "cat", "/etc/nginx/laravel-stack/upstream.conf")
    [line] = [x for x in conf.stdout.splitlines() if x.startswith("set $app_upstream ")]
    return line.split()[-1].rstrip(";").rsplit(":", 1)[0]


def up_in_background(p: Pulumi) -> subprocess.Popen[str]:
    """`pulumi up` in a session of its own, so that the whole tree (the CLI, the language host,
    the plugins, the step's docker CLI) can be frozen and thawed at once."""
    argv = ["pulumi", "up", "--yes", "--skip-preview", *p.policy, "--stack", p.stack,
            "--non-interactive"]  # fmt: skip
    return subprocess.Popen(argv, cwd=p.project, env=p.env, text=True, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip


def exec_of(lines: list[str], pattern: re.Pattern[str]) -> dict[str, Any] | None:
    """The first exec_start event whose command matches `pattern`."""
    for line in list(lines):
        ev = json.loads(line)
        action = ev.get("Action", "")
        if action.startswith("exec_start: ") and pattern.search(action[len("exec_start: ") :]):
            return ev
    return None


def exec_ended(lines: list[str], exec_id: str) -> bool:
    for line in list(lines):
        ev = json.loads(line)
        attrs = ev.get("Actor", {}).get("Attributes", {})
        if ev.get("Action") == "exec_die" and attrs.get("execID") == exec_id:
            return True
    return False


def test_the_registry_down_fails_before_any_container_changes(faults, registry):
    old, before = served(), containers()
    release(faults, "r2")
    registry.stop()
    assert not registry.answers()
    try:
        with Load(rate=20, base=BASE) as load, Writer(base=BASE) as writer:
            res = faults.up(check=False)
    finally:
        t0 = time.monotonic()
        registry.start()
        back = time.monotonic() - t0
    text = res.stdout + res.stderr
    assert res.returncode != 0
    assert REGISTRY in text and "connection refused" in text, text[-3000:]
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
    with (
        EngineEvents(name=NAME) as recorded,
        Load(rate=20, base=BASE) as load,
        Writer(base=BASE) as w,
    ):
        argv = ["pulumi", "up", "--yes", "--skip-preview", *faults.policy, "--stack",
                faults.stack, "--non-interactive"]  # fmt: skip
        proc = subprocess.Popen(argv, cwd=faults.project, env=faults.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        wait_for(lambda: any("php artisan migrate --force" in x for x in recorded.lines),
                 timeout=600, interval=0.2, what="the chain's migrate")  # fmt: skip
        # Inside the migration's statement, as MySQL itself says (a fixed pause after the exec
        # started could end before a busy machine has booted the framework and connected).
        wait_for(migration_sleeping, timeout=120, interval=0.3, what="the migration's SLEEP")
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
    with Load(rate=20, base=BASE) as load, Writer(base=BASE) as writer:
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


#: the step whose work the engine finished when it went down, and the next step, which never ran
AFTER_STEP = {
    "health": re.compile(PROBE + r"fcgi://\S+ \d+ \S+ \S+@sha256:"),  # before `switch`
    "switch": re.compile(rf"^sh {SCRIPTS}proxy_switch\.sh to "),  # before `verify`
}


@pytest.mark.parametrize("step", list(AFTER_STEP))
def test_the_engine_restarting_between_two_steps_leaves_a_consistent_site(faults, step):
    """The engine restarts (a docker.io upgrade, the OOM killer) right after it ran a step of
    the chain and before the next one: the step's `docker exec` finished in the engine, the
    `pulumi up` had not yet seen it. The test freezes the `up` (SIGSTOP to its whole process
    tree) the moment the step's exec starts, waits until the engine says it ended, restarts the
    engine and thaws the `up`."""
    old, old_app = served(), proxy_upstream()
    release(faults, f"e-{step}")
    with (
        EngineEvents(name=NAME) as recorded,
        Load(rate=20, base=BASE) as load,
        Writer(base=BASE) as w,
    ):
        proc = up_in_background(faults)
        try:
            ev = wait_for(lambda: exec_of(recorded.lines, AFTER_STEP[step]), timeout=600,
                          interval=0.02, what=f"the chain's {step}")  # fmt: skip
            signal_tree(proc.pid, signal.SIGSTOP)
            exec_id = ev["Actor"]["Attributes"]["execID"]
            wait_for(lambda: exec_ended(recorded.lines, exec_id), timeout=60, interval=0.1,
                     what=f"{step}'s exec to end")  # fmt: skip
            t0 = time.monotonic()
            restart_engine(server=True)
        finally:
            signal_tree(proc.pid, signal.SIGCONT)
        out, _ = proc.communicate(timeout=900)

        def consistent() -> str | None:
            status, body = get("/up")
            return body["build"] if status == 200 and isinstance(body, dict) else None

        serving = wait_for(consistent, timeout=120, interval=0.5, what="the site answering")
        back = time.monotonic() - t0
        time.sleep(1)
    assert proc.returncode != 0, out[-3000:]
    # One build, in the container the proxy names, which runs; the switch decides which one.
    expected = old if step == "health" else None
    answers = {consistent() for _ in range(30)}
    assert answers == {serving}, answers
    if expected:
        assert serving == expected and proxy_upstream() == old_app
    states = stack_container_states(NAME)
    assert states[proxy_upstream()] == "running", states
    missing = set(w.acked) - rows()
    assert missing == set(), missing
    # The documented recovery: `pulumi up` (the failed step and the ones after it run again).
    with Load(rate=20, base=BASE) as after:
        faults.up()
    new = served()
    assert new != old and after.failures(serving, new) == {}, after.builds
    faults.run("preview", "--expect-no-changes")
    failed = sum(n for k, n in load.failures(old, serving).items())
    FIGURES[f"engine restarted after {step}"] = {
        "served after": "old build" if serving == old else "new build",
        "failed requests": failed, "failed writes": w.failed, "acknowledged": len(w.acked),
        "missing rows": 0, "seconds until served": round(back, 1), "recovery": "up",
        "failed step": last_failed_step(out),
    }  # fmt: skip


def last_failed_step(out: str) -> str:
    """The resource the `up`'s diagnostics name first (`  command:local:Command (NAME):`)."""
    for line in out.splitlines():
        m = re.match(r"^\s+(\S+:\S+:\S+) \(([^)]+)\):$", line)
        if m and m.group(1) != "pulumi:pulumi:Stack":
            return m.group(2)
    return ""
