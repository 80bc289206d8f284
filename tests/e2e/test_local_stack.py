"""The local stack, deployed for real: scenarios run in order against one stack.

Evidence of what happened comes from the Docker engine (events with its own timestamps) and
from inside the containers, never from Pulumi's account of its own ordering.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import Counter

import pytest

from .conftest import NAME, Pulumi, docker_cleanup, http, sh, wait_for

APP = f"{NAME}-app"
SECRETS = ["local-db-password", "local-root-password"]  # plain values of Pulumi.local.yaml


def container_states() -> dict[str, tuple[str, str]]:
    out = sh("docker", "ps", "-a", "--filter", f"label=laravel-stack.stack={NAME}",
             "--format", "{{.Names}}\t{{.State}}\t{{.Status}}").stdout  # fmt: skip
    return {n: (s, st) for n, s, st in (line.split("\t") for line in out.splitlines())}


def db_rows(table: str = "visits") -> int:
    """Count rows straight from MySQL, independent of the app (its password from its own env)."""
    query = f"SELECT COUNT(*) FROM laravel.{table}"
    out = sh("docker", "exec", f"{NAME}-mysql", "sh", "-c",
             'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -N -e "$1"', "count", query).stdout  # fmt: skip
    return int(out.strip())


def served_build() -> str:
    status, body = http("/up")
    assert status == 200, body
    return body["build"]


def release_events(since: float, until: float) -> list[tuple[int, str]]:
    """The app container's exec and kill events between two times, as the engine recorded them."""
    out = sh("docker", "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
             "--filter", f"container={APP}", "--format", "{{json .}}").stdout  # fmt: skip
    events = []
    for line in out.splitlines():
        ev = json.loads(line)
        action = ev.get("Action", "")
        if action.startswith("exec_start: ") or action == "kill":
            label = action.removeprefix("exec_start: ")
            if action == "kill":
                label = f"kill signal={ev['Actor']['Attributes'].get('signal')}"
            events.append((int(ev["timeNano"]), label))
    return sorted(events)


STEP_OF = [
    ("ownership", re.compile(r"^find .*/storage|^test -w ")),
    ("migrate", re.compile(r"artisan migrate --force")),
    ("cache-clear", re.compile(r"artisan (config|route|view|event|cache):clear")),
    ("opcache-reset", re.compile(r"^kill signal=12$")),  # SIGUSR2
    ("cache-rebuild", re.compile(r"artisan (config|route|view|event):cache")),
    ("workers-restart", re.compile(r"artisan queue:restart")),
    ("health", re.compile(r"^php -r ")),
]


def steps_seen(events: list[tuple[int, str]]) -> list[tuple[int, str]]:
    seen = []
    for i, (ts, label) in enumerate(events):
        nxt = events[i + 1][1] if i + 1 < len(events) else ""
        if "config:clear" in label and "migrate --force" in nxt:
            seen.append((ts, "migrate"))  # the migrate step clears a baked config first
            continue
        for step, pattern in STEP_OF:
            if pattern.search(label):
                seen.append((ts, step))
    return seen


class Load:
    """Steady background traffic on /up during a deploy (bounded count and time)."""

    def __init__(self, rate: float = 10, limit_s: float = 900):
        self.rate, self.limit_s = rate, limit_s
        self.builds: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + self.limit_s
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                status, body = http("/up", timeout=2)
                self.builds[body["build"] if status == 200 else f"HTTP {status}"] += 1
            except Exception as err:  # a refused connection during a recreate is data too
                self.builds[type(err).__name__] += 1
            self._stop.wait(1 / self.rate)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def deployed(pulumi: Pulumi) -> dict:
    t0 = time.time()
    res = pulumi.up()
    return {"up": res, "since": t0, "until": time.time(), "outputs": pulumi.outputs()}


def test_up_from_scratch_serves_the_deployed_build(deployed):
    out = deployed["outputs"]
    roles = ["app", "web", "mysql", "queue-1", "scheduler"]

    def all_running():
        states = container_states()
        return all(states.get(f"{NAME}-{r}", ("missing",))[0] == "running" for r in roles)

    # queue:restart (the chain's last-but-one step) makes workers exit; they come back at once.
    wait_for(all_running, 30, what="every container running")
    # The app's own Docker health check (a FastCGI request through FPM) and MySQL's.
    wait_for(lambda: "(healthy)" in container_states()[APP][1], 60, what="app healthy")
    assert "(healthy)" in container_states()[f"{NAME}-mysql"][1]
    assert served_build() == out["image"]
    assert out["image"].split("@")[1] == out["build_id"]
    assert out["health_url"] == f"http://127.0.0.1:{18080}/up"
    assert "healthy: HTTP 200" in out["release"]


def test_every_app_container_runs_the_digest(deployed):
    digest_ref = deployed["outputs"]["image"]
    image_id = sh("docker", "image", "inspect", "--format", "{{.Id}}", digest_ref).stdout.strip()
    for role in ["app", "queue-1", "scheduler"]:
        name = f"{NAME}-{role}"
        assert sh("docker", "inspect", "--format", "{{.Image}}", name).stdout.strip() == image_id
        env = sh("docker", "inspect", "--format", "{{json .Config.Env}}", name).stdout
        assert f"APP_BUILD={digest_ref}" in json.loads(env)


def test_database_write_and_read(deployed):
    status, body = http("/db")
    assert status == 200 and body["count"] >= 1, body
    status, again = http("/db/count")
    assert status == 200 and again["count"] == body["count"]


def test_database_is_not_published_and_internal_only(deployed):
    ports = sh("docker", "port", f"{NAME}-mysql", check=False).stdout.strip()
    assert ports == ""
    nets = json.loads(sh("docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}",
                         f"{NAME}-mysql").stdout)  # fmt: skip
    assert list(nets) == [f"{NAME}-internal"]


def test_storage_link_serves_a_file(deployed):
    status, body = http("/storage/hello.txt")
    assert status == 200 and "hello from storage" in str(body)


def test_queue_job_runs_on_a_worker_of_the_deployed_build(deployed):
    build = deployed["outputs"]["image"]
    status, body = http("/queue")
    assert status == 202, body
    token = body["token"]

    def ran():
        _, runs = http("/queue/runs")
        return next((r for r in runs["runs"] if r["token"] == token), None)

    run = wait_for(ran, 60, what="the queued job to run")
    assert run["worker_build"] == build, run


def test_scheduler_heartbeat(deployed):
    def beat():
        _, body = http("/heartbeat")
        return body if body["count"] >= 1 else None

    body = wait_for(beat, 90, interval=2, what="a scheduler heartbeat")
    assert body["last"]["build"] == deployed["outputs"]["image"]


def test_release_chain_ran_in_order_inside_the_app_container(deployed):
    seen = steps_seen(release_events(deployed["since"], deployed["until"]))
    firsts: dict[str, int] = {}
    lasts: dict[str, int] = {}
    for ts, step in seen:
        firsts.setdefault(step, ts)
        lasts[step] = ts
    order = [s for s, _ in STEP_OF]
    assert list(firsts) == order, seen
    for before, after in itertools.pairwise(order):
        assert lasts[before] < firsts[after], f"{before} overlaps {after}"


def test_second_up_is_a_no_op(pulumi, deployed):
    pulumi.run("preview", "--expect-no-changes")
    t0 = time.time()
    pulumi.up("--expect-no-changes")
    assert steps_seen(release_events(t0, time.time())) == [], "the chain re-ran without a change"


def change_code(pulumi: Pulumi, version: str) -> None:
    pulumi.set("image.build_args.APP_CODE_VERSION", version)


def test_code_change_previews_then_runs_the_chain_and_serves_the_new_build(pulumi, deployed):
    old = served_build()
    change_code(pulumi, "v2")
    steps = pulumi.preview_steps()
    ops = {(s["urn"].split("::")[-1], s["op"]) for s in steps}
    assert ("app", "replace") in ops or ("app", "update") in ops, ops  # the image
    chain = {name for name, op in ops if op in ("replace", "create-replacement")}
    assert {"ownership", "cache-clear", "opcache-reset", "cache-rebuild", "health"} <= chain, ops

    t0 = time.time()
    with Load() as load:
        pulumi.up()
    new = pulumi.outputs()["image"]
    assert new != old
    assert served_build() == new
    assert http("/up")[1]["code"] == "v2"
    seen = [s for _, s in steps_seen(release_events(t0, time.time()))]
    assert seen.index("cache-clear") < seen.index("opcache-reset") < seen.index("cache-rebuild")
    assert seen[-1] == "health"
    # config.php was rebuilt inside the container after FPM's reload
    mtime = int(sh("docker", "exec", APP, "stat", "-c", "%Y",
                   "/var/www/html/bootstrap/cache/config.php").stdout)  # fmt: skip
    assert mtime >= int(t0)
    assert load.builds[new] > 0


def test_incident_without_opcache_reset_the_old_build_is_served_and_up_fails(pulumi, deployed):
    http("/db")
    rows_before = db_rows()
    assert rows_before >= 1
    pulumi.set("release.skip[0]", "opcache-reset")
    pulumi.set("health.retries", "5")
    # The image bakes a config cache at build time (like `RUN php artisan optimize`): FPM
    # compiles it on its first requests, before the chain replaces it.
    pulumi.set("image.build_args.BAKE_CONFIG_CACHE", "1")
    change_code(pulumi, "v3")
    with Load():
        res = pulumi.up(check=False)
    assert res.returncode != 0
    text = res.stdout + res.stderr
    assert "health check failed: the served code is not the deployed build" in text, text[-4000:]
    new = json.loads(sh("docker", "inspect", "--format", "{{json .Config.Env}}", APP).stdout)
    new_build = next(e.split("=", 1)[1] for e in new if e.startswith("APP_BUILD="))
    assert served_build() != new_build, "stale OPcache did not reproduce"
    # The failed release lost nothing.
    assert db_rows() == rows_before
    # Turned back on: the same release is fresh, and the app reads its rows again.
    pulumi.rm("release.skip")
    pulumi.up()
    assert served_build() == new_build == pulumi.outputs()["image"]
    assert http("/db/count")[1]["count"] == rows_before


def test_secrets_never_appear_in_state_outputs_or_logs(pulumi, deployed):
    exported = pulumi.run("stack", "export").stdout
    outputs = pulumi.run("stack", "output", "--json").stdout
    logs = deployed["up"].stdout + deployed["up"].stderr
    for secret in SECRETS:
        assert secret not in exported
        assert secret not in outputs
        assert secret not in logs
    assert '"secure"' in exported or "ciphertext" in exported


def test_destroy_removes_containers_and_network_but_keeps_the_database(pulumi, deployed):
    pulumi.run("destroy", "--yes")
    assert container_states() == {}
    nets = sh("docker", "network", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{NAME}-internal" not in nets
    vols = sh("docker", "volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{NAME}-db-data" in vols
    # Up again on the retained volume: the rows are still there.
    pulumi.up()
    assert http("/db/count")[1]["count"] >= 1
    pulumi.run("destroy", "--yes")
    docker_cleanup()
