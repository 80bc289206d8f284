"""End-to-end fixtures: the real `pulumi` CLI against the real Docker engine.

Nothing here skips: a missing toolchain or engine is a failure (run scripts/bootstrap first;
scripts/test does).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import pytest

from .conformance import Vectors
from .support.lock import EngineLock, running_containers, wait_settled

REPO = Path(__file__).resolve().parents[2]
STACK = "e2e"
NAME = "lse2e"  # container/volume prefix, distinct from the local stack's
PORT = 18080
PASSPHRASE = "laravel-stack-local"  # the local stack's documented, non-secret passphrase


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


def sh(
    *argv: str, timeout: float = 120, check: bool = True, **kw: Any
) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=check, **kw)


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


LOCAL_BASE = f"http://127.0.0.1:{PORT}"


def http(path: str, timeout: float = 5, base: str = LOCAL_BASE) -> tuple[int, Any]:
    url = f"{base}{path}"
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as err:
        body, status = err.read().decode(), err.code
    try:
        return status, json.loads(body)
    except json.JSONDecodeError:
        return status, body


def wait_for(predicate, timeout: float, interval: float = 1.0, what: str = "condition"):
    """Poll `predicate` (bounded by `timeout` seconds); return its first truthy value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (OSError, urllib.error.URLError) as err:
            last = err
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def release_events(lines: list[str]) -> list[tuple[int, str, str]]:
    """Exec, kill and destroy events of the stack's containers, as the engine recorded them:
    (time in ns, container, what)."""
    events = []
    for line in lines:
        ev = json.loads(line)
        action = ev.get("Action", "")
        name = ev.get("Actor", {}).get("Attributes", {}).get("name", "")
        if action.startswith("exec_start: "):
            events.append((int(ev["timeNano"]), name, action.removeprefix("exec_start: ")))
        elif action in ("kill", "destroy"):
            signal = ev["Actor"]["Attributes"].get("signal", "")
            events.append((int(ev["timeNano"]), name, f"{action} signal={signal}".strip()))
    return sorted(events)


SCRIPTS = "/usr/local/lib/laravel-stack/"  # the chain's scripts in the app container
BATCH = rf"^php {SCRIPTS}artisan_batch\.php "  # artisan commands in one boot
PROBE = rf"^php {SCRIPTS}health_probe\.php "
STEP_OF = [
    ("contract", re.compile(rf"^sh {SCRIPTS}contract\.sh /")),  # as root, in the new app
    ("ownership", re.compile(r"^find .*/storage|^sh -c for d; do test -w ")),
    ("migrate", re.compile(r"^php artisan migrate --force")),
    ("cache-clear", re.compile(r"^php artisan config:clear|" + BATCH + r"\S* ?route:clear")),
    ("opcache-reset", re.compile(rf"^sh {SCRIPTS}fpm_reload\.sh$")),  # SIGUSR2, from inside
    ("cache-rebuild", re.compile(BATCH + "config:cache route:cache")),
    ("workers-restart", re.compile(r"^php artisan queue:restart")),
    # The chain's probes name the deployed build; Docker's health check (the same probe) doesn't.
    ("health", re.compile(PROBE + r"fcgi://\S+ \d+ \S+ \S+@sha256:")),  # straight to FPM
    # in the front proxy (verify re-asserts it first: a no-op there)
    ("switch", re.compile(rf"^sh {SCRIPTS}proxy_switch\.sh to ")),
    ("verify", re.compile(PROBE + r"http://\S+ \d+ \S+ \S+@sha256:")),  # via the proxy
]
OPCACHE_RESET = dict(STEP_OF)["opcache-reset"]


def steps_seen(events: list[tuple[int, str, str]]) -> list[tuple[int, str]]:
    # Only release commands: Docker's own HEALTHCHECK execs interleave with them.
    ours = [e for e in events if any(p.search(e[2]) for _, p in STEP_OF)]
    seen = []
    for i, (ts, _, label) in enumerate(ours):
        nxt = ours[i + 1][2] if i + 1 < len(ours) else ""
        if "config:clear" in label and "migrate --force" in nxt:
            seen.append((ts, "migrate"))  # the migrate step clears a baked config first
            continue
        for step, pattern in STEP_OF:
            if pattern.search(label):
                seen.append((ts, step))
    return seen


def assert_chain_in_order(events: list[tuple[int, str, str]]) -> None:
    """Every step ran, in chain order, each one finished before the next began."""
    seen = steps_seen(events)
    firsts: dict[str, int] = {}
    lasts: dict[str, int] = {}
    for ts, step in seen:
        firsts.setdefault(step, ts)
        lasts[step] = ts
    order = [s for s, _ in STEP_OF]
    assert list(firsts) == order, seen
    for before, after in itertools.pairwise(order):
        assert lasts[before] < firsts[after], f"{before} overlaps {after}"


class EngineEvents:
    """The Docker engine's own record of what happened to the stack's containers, from a live
    `docker events` stream started before the block and stopped after it. (The daemon replays
    only its last 256 events to `--since/--until`: health-check execs push a deploy's first
    events out of that buffer within minutes.) The stream is bounded: killed after `limit_s`."""

    def __init__(self, limit_s: float = 1500, name: str = NAME, docker_host: str | None = None):
        self.lines: list[str] = []
        self.name, self.docker_host = name, docker_host
        self.limit_s = limit_s
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> EngineEvents:
        # --since now: events between the process start and the stream being live are replayed.
        host = ["--host", self.docker_host] if self.docker_host else []
        argv = ["docker", *host, "events", "--since", f"{time.time():.3f}", "--format",
                "{{json .}}", "--filter", f"label=laravel-stack.stack={self.name}"]  # fmt: skip
        # (stderr: an engine restarted by a test ends the stream with "unexpected EOF")
        self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      text=True)  # fmt: skip
        self._timer = threading.Timer(self.limit_s, self._proc.kill)
        self._timer.start()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._proc and self._proc.stdout
        for line in self._proc.stdout:
            self.lines.append(line)

    def __exit__(self, *exc: object) -> None:
        assert self._proc and self._reader
        time.sleep(1)  # events of the block's last moments are still in flight
        self._timer.cancel()
        self._proc.terminate()
        self._proc.wait(timeout=10)
        self._reader.join(timeout=10)


def signal_tree(pid: int, sig: signal.Signals) -> None:
    """`sig` to `pid` and every process below it, each tree listed before it is signalled (listed
    twice: a child forked meanwhile). Below a `pulumi up` are the plugins, which run in process
    groups of their own."""
    for _ in range(2):
        table = sh("ps", "-e", "-o", "pid=,ppid=").stdout.split()
        children: dict[int, list[int]] = {}
        for child, parent in zip(table[::2], table[1::2], strict=True):
            children.setdefault(int(parent), []).append(int(child))
        todo, tree = [pid], []
        while todo:
            tree.append(todo.pop())
            todo += children.get(tree[-1], [])
        for each in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, sig)


def restart_engine(server: bool = False) -> None:
    """Restart a Docker engine as a host reboot or a package upgrade does (SIGTERM: it stops its
    containers; started again the same way): this machine's, or the SSH test server's."""
    if server:
        sh("bash", str(REPO / "scripts/remote-host"), "restart-engine", timeout=240)
    else:
        sh("bash", str(REPO / "scripts/bootstrap-docker.sh"), "--restart-dockerd", timeout=240)


def stack_container_states(name: str, docker_host: str | None = None) -> dict[str, str]:
    host = ["--host", docker_host] if docker_host else []
    out = sh("docker", *host, "ps", "-a", "--filter", f"label=laravel-stack.stack={name}",
             "--format", "{{.Names}}\t{{.State}}").stdout  # fmt: skip
    return dict(line.split("\t") for line in out.splitlines())


#: after an engine restart, every request must be answered by the serving build within this
RESTART_BOUND_S = 120


def engine_restart_recovers(
    server: bool, get: Callable[[str], tuple[int, Any]], build: str, name: str,
    docker_host: str | None = None,
) -> float:  # fmt: skip
    """Restart the engine with no `pulumi` command run; return the seconds until the site
    answered `build` again. Then 50 requests in a row must all be that build, and every
    container of the stack must be running again (none left `Exited`)."""
    t0 = time.monotonic()
    restart_engine(server)

    def serves() -> bool:
        status, body = get("/up")
        return status == 200 and isinstance(body, dict) and body.get("build") == build

    wait_for(serves, RESTART_BOUND_S, interval=0.5, what=f"{build} served after the restart")
    seconds = time.monotonic() - t0
    answers: Counter[Any] = Counter()
    for _ in range(50):
        status, body = get("/up")
        answers[body.get("build") if status == 200 and isinstance(body, dict) else status] += 1
        time.sleep(0.05)
    assert answers == {build: 50}, f"after the restart: {answers}"
    wait_for(
        lambda: set(stack_container_states(name, docker_host).values()) == {"running"},
        RESTART_BOUND_S, what="every container of the stack running",
    )  # fmt: skip
    return seconds


def docker_cleanup(name: str = NAME) -> None:
    """Remove whatever an earlier run of this stack left on the engine."""
    ids = sh("docker", "ps", "-aq", "--filter", f"label=laravel-stack.stack={name}").stdout.split()
    if ids:
        sh("docker", "rm", "-f", *ids)
    for vol in ["db-data", "storage", "public", "tls"]:
        sh("docker", "volume", "rm", "-f", f"{name}-{vol}", check=False)
    sh("docker", "network", "rm", f"{name}-internal", check=False)


@pytest.fixture(scope="session")
def vectors() -> Iterator[Vectors]:
    v = Vectors()
    yield v
    v.save()


def new_project(tmp_path_factory, stack: str, base_config: str = "Pulumi.local.yaml") -> Pulumi:
    """A copy of the tracked project with a new stack (file backend in the copy's folder)."""
    for tool in ("pulumi", "docker"):
        assert shutil.which(tool), f"{tool} not on PATH: run scripts/bootstrap"
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


class Background:
    """A loop in a thread while the block runs: `tick` `rate` times a second, bounded in time
    (stopped after `limit_s` even if the block is still running)."""

    def __init__(self, rate: float, limit_s: float):
        self.rate, self.limit_s = rate, limit_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tick(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        end = time.monotonic() + self.limit_s
        while not self._stop.is_set() and time.monotonic() < end:
            self.tick()
            self._stop.wait(1 / self.rate)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class Load(Background):
    """Steady background traffic on /up during a deploy (bounded count and time)."""

    def __init__(
        self,
        rate: float = 10,
        limit_s: float = 900,
        base: str = LOCAL_BASE,
        get: Callable[[str], tuple[int, Any]] | None = None,
    ):
        super().__init__(rate, limit_s)
        self.base = base
        self.get = get or (lambda path: http(path, timeout=2, base=self.base))
        self.builds: Counter[str] = Counter()
        #: (seconds since the start, outcome) of every request that was not a 200
        self.errors: list[tuple[float, str]] = []
        self._start = time.monotonic()
        self.started = time.time()  # the wall clock at 0 s, to match engines' logs

    def tick(self) -> None:
        try:
            status, body = self.get("/up")
            outcome = body["build"] if status == 200 else f"HTTP {status}"
            ok = status == 200
        except Exception as err:  # a refused connection during a recreate is data too
            outcome, ok = type(err).__name__, False
        self.builds[outcome] += 1
        if not ok:
            self.errors.append((round(time.monotonic() - self._start, 1), outcome))

    def error_spans(self, gap: float = 3.0) -> list[str]:
        """The failed requests as time spans ("12.1-15.3 s: 4 TimeoutError, 1 HTTP 502")."""
        spans: list[list[tuple[float, str]]] = []
        for t, outcome in self.errors:
            if spans and t - spans[-1][-1][0] <= gap:
                spans[-1].append((t, outcome))
            else:
                spans.append([(t, outcome)])
        return [
            f"{span[0][0]}-{span[-1][0]} s: "
            + ", ".join(f"{n} {o}" for o, n in Counter(o for _, o in span).most_common())
            for span in spans
        ]

    def failures(self, *builds: str) -> dict[str, int]:
        """Every outcome that is not one of `builds` answering (errors, other statuses)."""
        return {k: n for k, n in self.builds.items() if k not in builds}


class Writer(Background):
    """Rows inserted through the app (`/db`: one row a request, answered with its id) at a
    fixed rate, bounded in time: the ids the app acknowledged, and how many requests failed."""

    def __init__(self, base: str, rate: float = 5, limit_s: float = 900):
        super().__init__(rate, limit_s)
        self.base = base
        self.acked: list[int] = []
        self.failed = 0

    def tick(self) -> None:
        try:
            status, body = http("/db", timeout=3, base=self.base)
            if status == 200 and isinstance(body, dict) and body.get("last"):
                self.acked.append(int(body["last"]["id"]))
            else:
                self.failed += 1
        except Exception:  # a refused or dropped connection is a failed write too
            self.failed += 1


def print_figures(title: str, figures: dict[str, dict[str, Any]]) -> None:
    """A suite's fault figures (README's fault table), printed when its stack is destroyed."""
    print(f"\n{title}:")
    for case, fig in figures.items():
        print(f"  {case}: {fig}")


@pytest.fixture(scope="session")
def pulumi(tmp_path_factory) -> Iterator[Pulumi]:
    sh("docker", "info")
    docker_cleanup()
    p = new_project(tmp_path_factory, STACK)
    p.set("name", NAME)
    p.set("web.port", str(PORT))
    yield p
    p.run("destroy", "--yes", check=False)
    docker_cleanup()


# The suites side by side (scripts/test: pytest-xdist, one test file per worker at a time): one
# engine, shared. See support/lock.py.
ENGINE_LOCK = EngineLock()
#: the engine_steady modules whose run holds the lock shared (in this process)
_STEADY_HELD: set[Path] = set()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "engine_alone: restarts this machine's engine or stops its registry: no other e2e test "
        "runs meanwhile (the exclusive side of the engine lock)",
    )
    config.addinivalue_line(
        "markers",
        "engine_steady: the module's fixtures do not survive an engine restart: its whole run "
        "holds the engine lock shared",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[Any]:
    if Path(str(item.path)).parent != Path(__file__).parent:
        return (yield)
    if item.get_closest_marker("engine_alone"):
        before = running_containers()
        with ENGINE_LOCK.exclusive():
            try:
                return (yield)
            finally:
                wait_settled(before)
    steady = item.get_closest_marker("engine_steady") is not None
    if steady and item.path not in _STEADY_HELD:
        ENGINE_LOCK.acquire_shared()
        _STEADY_HELD.add(item.path)
    try:
        with ENGINE_LOCK.shared():
            return (yield)
    finally:
        if steady and (nextitem is None or nextitem.path != item.path):
            # (the module's fixtures were torn down in this test's teardown)
            ENGINE_LOCK.release_shared()
            _STEADY_HELD.discard(item.path)
