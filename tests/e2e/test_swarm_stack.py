"""The swarm stack (issue 21) on the test cluster (proving-ground/swarm-cluster, a cluster of its
own: LARAVEL_STACK_SWARM_ID=2): two engines in network namespaces, one Swarm, the manager reached
over SSH with a pinned key. The app runs as services across both nodes; evidence comes from
the nodes' engines (their own sockets) and from every task, reached one by one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stack_settings

from .conformance import normalize_state, preview_ops
from .support.http import http, wait_for
from .support.load import Load
from .support.pulumi import REPO, Pulumi, new_project
from .support.shell import sh

STACK = "e2e-swarm"  # never shared with another suite's stack
NAME = "lssw"
PORT = 18091
# The cluster suite uses 0: each suite has a cluster of its own (another ID runs this suite
# beside a CI run, e.g. on other plugins).
CLUSTER_ID = os.environ.get("LARAVEL_STACK_SWARM_SUITE_ID", "2")
CLUSTER = str(REPO / "proving-ground/swarm-cluster")
CLUSTER_ENV = {**os.environ, "LARAVEL_STACK_SWARM_ID": CLUSTER_ID}


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, str]]:
    out = sh("bash", CLUSTER, "up", timeout=300, env=CLUSTER_ENV).stdout
    info = {k: v.strip("'") for k, v in (ln.split("=", 1) for ln in out.splitlines() if "=" in ln)}
    agent = sh("ssh-agent", "-s").stdout
    env = dict(
        part.split("=", 1)
        for part in agent.replace(";", "\n").split()
        if part.startswith(("SSH_AUTH_SOCK=", "SSH_AGENT_PID="))
    )
    sh("ssh-add", "-q", info["SWARM_KEY"], env={**os.environ, **env})
    info.update(env)
    yield info
    # This cluster's shared ssh connections only (their path names its pinned key's hash).
    pins = hashlib.sha256(info["SWARM_KNOWN_HOSTS"].encode()).hexdigest()[:8]
    subprocess.run(["pkill", "-f", f"laravel-stack-{NAME}-{pins}-"], check=False)
    os.kill(int(env["SSH_AGENT_PID"]), signal.SIGTERM)
    sh("bash", CLUSTER, "down", timeout=180, env=CLUSTER_ENV)


def node(cluster: dict[str, str], n: int, *args: str, check: bool = True) -> str:
    """Node n's engine, through its own socket (the test's view, not Pulumi's)."""
    host = cluster["SWARM_DOCKER_HOSTS"].split()[n - 1]
    return sh("docker", "--host", host, *args, check=check, timeout=120).stdout


def bases(cluster: dict[str, str]) -> list[str]:
    return [f"http://{a}:{PORT}" for a in cluster["SWARM_NODE_ADDRESSES"].split()]


@pytest.fixture(scope="module")
def swarm(tmp_path_factory, cluster) -> Iterator[Pulumi]:
    shared = stack_settings.swarm_shared_dir(NAME, cluster)
    p = new_project(tmp_path_factory, STACK)
    p.env.update(SSH_AUTH_SOCK=cluster["SSH_AUTH_SOCK"])
    settings = {
        **stack_settings.swarm(NAME, "swarm", PORT, cluster, shared),
        # Room for a lost node's task on the other node (the default, 1, keeps it pending
        # until a node with room is back: on two nodes, the lost one).
        "swarm.max_per_node": "2",
    }
    for key, value in settings.items():
        # set-all: a value may start with "--"
        p.run("config", "set-all", "--path", "--plaintext", f"{key}={value}")
    yield p
    p.run("destroy", "--yes", check=False)


def tasks(cluster: dict[str, str], service: str) -> list[dict[str, str]]:
    """The running tasks of `service`, as the manager's engine lists them."""
    out = node(cluster, 1, "service", "ps", "--filter", "desired-state=running", "--format",
               "{{json .}}", f"{NAME}-{service}")  # fmt: skip
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def served_builds(cluster: dict[str, str]) -> dict[str, str]:
    """The build each node's entry answers with."""
    out = {}
    for b in bases(cluster):
        status, body = http("/up", base=b)
        out[b] = body["build"] if status == 200 else f"HTTP {status}"
    return out


def task_builds(cluster: dict[str, str], image: str) -> list[str]:
    """Every running app task, reached one by one on the overlay (`tasks.<app>`, from a
    one-shot of `image` on the manager): the build each serves, sorted."""
    probe = (REPO / "components/scripts/health_probe.php").read_text()
    res = subprocess.run(
        ["docker", "--host", cluster["SWARM_DOCKER_HOSTS"].split()[0], "run", "--rm", "-i",
         "--pull", "never", "--network", f"{NAME}-internal", "--user", "0", "--entrypoint", "sh",
         image, "-c", TASK_BUILDS_SH, f"tasks.{NAME}-app"],
        input=probe, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return sorted(res.stdout.split())


#: in the one-shot: health_probe.php on stdin, then each task's build (the probe's JSON field)
TASK_BUILDS_SH = r"""cat >/tmp/p.php
for ip in $(getent ahostsv4 "$0" | awk '{ print $1 }' | sort -u); do
  php /tmp/p.php "fcgi://$ip:9000/up" 200 build "" 1 0 5 /var/www/html/public/index.php \
    | sed -n 's/.*build=\([^ ,;]*\).*/\1/p'
done"""


def state(swarm: Pulumi, cluster: dict[str, str]) -> dict[str, Any]:
    """The stack's state as the vectors compare it: also masked, what is this cluster's own (its
    directory, which holds the shared one and the nodes' data-roots, its host key and the ssh
    connection's name that hashes it)."""
    text = json.dumps(normalize_state(swarm.state(), str(swarm.project)))
    key = cluster["SWARM_KNOWN_HOSTS"].split()[2]  # the key itself (its type is masked already)
    pins = hashlib.sha256(cluster["SWARM_KNOWN_HOSTS"].encode()).hexdigest()[:8]
    home = os.path.dirname(cluster["SWARM_SHARED"])
    for value, masked in ((home + "/", "<cluster>/"), (key, "<host-key>"),
                          (f"-{pins}-", "-<pins>-")):  # fmt: skip
        text = text.replace(value, masked)
    return json.loads(text)


def test_up_from_scratch_spreads_web_tasks_pins_data_and_answers_on_every_node(
    swarm, cluster, vectors
):
    swarm.up()
    vectors.check("swarm: state after up", state(swarm, cluster))
    BUILDS["first"] = swarm.outputs()["image"]
    out = swarm.outputs()
    build = out["image"]
    names = cluster["SWARM_NODE_NAMES"].split()
    app_nodes = sorted(t["Node"] for t in tasks(cluster, "app"))
    assert app_nodes == sorted(names), app_nodes  # one web task on each node
    for role in ("mysql", "redis"):
        assert [t["Node"] for t in tasks(cluster, role)] == [names[-1]]  # the data node
        ports = node(cluster, 1, "service", "inspect", "--format",
                     "{{json .Endpoint.Ports}}", f"{NAME}-{role}").strip()  # fmt: skip
        assert ports in ("null", "[]"), ports  # never published
    assert set(served_builds(cluster).values()) == {build}
    for b in bases(cluster):  # the home page (a URI ending in /) is the app's, on every node
        status, page = http("/", base=b)
        assert status == 200 and build in page, (b, status, str(page)[:300])
    assert task_builds(cluster, build) == [build, build]
    swarm.run("preview", "--expect-no-changes", "--diff")


def started(cluster: dict[str, str], step: str, since: float) -> int:
    """How many one-shots of `step` the manager's engine started since `since` (its events)."""
    out = node(cluster, 1, "events", "--since", str(int(since)), "--until", str(int(time.time())),
               "--filter", "event=start", "--filter", f"label=laravel-stack.step={step}",
               "--format", "{{.ID}}")  # fmt: skip
    return len(out.split())


def test_a_code_change_rolls_out_under_load_with_every_task_proven(swarm, cluster, vectors):
    old = swarm.outputs()["image"]
    swarm.set("image.build_args.APP_CODE_VERSION", "v2")
    vectors.check("swarm: preview: code change", preview_ops(swarm.preview()))
    entries = itertools.cycle(bases(cluster))  # spread over both nodes' entry points
    since = time.time() - 1
    with Load(rate=20, get=lambda path: http(path, timeout=2, base=next(entries))) as load:
        swarm.up()
    new = swarm.outputs()["image"]
    assert new != old
    assert load.failures(old, new) == {}, load.builds  # 0 failed, only the old or the new build
    assert load.builds[new] > 0, load.builds
    after = [http("/up", base=next(entries))[1]["build"] for _ in range(40)]
    assert set(after) == {new}  # 0 old-build responses once `up` returned
    assert task_builds(cluster, new) == [new, new]  # every web task, one by one
    spread = sorted(t["Node"] for t in tasks(cluster, "app"))
    assert spread == sorted(cluster["SWARM_NODE_NAMES"].split()), spread  # still one per node
    assert started(cluster, "migrate", since) == 1  # exactly once for the release
    vectors.check("swarm: state after a code change", state(swarm, cluster))
    print(f"\nswarm code change under 20 req/s: {dict(load.builds)}")
    swarm.run("preview", "--expect-no-changes", "--diff")


def entry_load(cluster: dict[str, str], *nodes: int) -> Load:
    """20 req/s on /up, spread over the given nodes' entry points (all by default)."""
    all_bases = bases(cluster)
    chosen = [all_bases[n - 1] for n in nodes] or all_bases
    cycle = itertools.cycle(chosen)
    return Load(rate=20, get=lambda path: http(path, timeout=2, base=next(cycle)))


HEALTH = "examples/laravel-app/app/Http/Controllers/HealthController.php"
CHECK_START = "        $opcache ="


def test_a_build_that_fails_its_health_check_never_reaches_the_service(swarm, cluster):
    live = swarm.outputs()["image"]
    controller = swarm.project / HEALTH
    good = controller.read_text()
    broken = "        abort(500, 'boom: broken health');\n" + CHECK_START
    controller.write_text(good.replace(CHECK_START, broken, 1))
    spec = node(cluster, 1, "service", "inspect", "--format", "{{.Version.Index}}", f"{NAME}-app")
    with entry_load(cluster) as load:
        res = swarm.up(check=False)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    # the verdict (the status, what the app said), then the canary's: not called another build
    assert "health check failed: the app answered HTTP 500, not 200" in out, out[-3000:]
    assert '  | {"message":"boom: broken health"}' in out, out[-3000:]
    assert "canary: the new build does not answer its health check as it should" in out
    assert load.failures(live) == {}, load.builds  # 0 failed requests, only the old build
    assert set(served_builds(cluster).values()) == {live}
    assert task_builds(cluster, live) == [live, live]
    # The service was never touched: its spec version is the one before.
    assert node(cluster, 1, "service", "inspect", "--format", "{{.Version.Index}}",
                f"{NAME}-app") == spec  # fmt: skip
    controller.write_text(good)  # the fix: the next `up` converges on it
    with entry_load(cluster) as fixed:
        swarm.up()
    assert swarm.outputs()["image"] == live
    assert fixed.failures(live) == {}, fixed.builds
    assert set(served_builds(cluster).values()) == {live}


def test_a_rollout_swarm_rolls_back_fails_up_with_the_reason_and_the_old_build_serves(
    swarm, cluster, vectors
):
    """A failure only a task shows (here: a file on the shared storage the canary does not
    mount): the rollout's first new task fails its health check, Swarm rolls the service back."""
    live = swarm.outputs()["image"]
    controller = swarm.project / HEALTH
    good = controller.read_text()
    trap = (
        "        if (is_file(storage_path('app/e2e-task-only-failure'))) {\n"
        "            abort(500, 'boom: task-only failure');\n"
        "        }\n" + CHECK_START
    )
    controller.write_text(good.replace(CHECK_START, trap, 1))
    flag = os.path.join(cluster["SWARM_SHARED"], NAME, "storage", "app", "e2e-task-only-failure")
    os.makedirs(os.path.dirname(flag), exist_ok=True)
    with open(flag, "w") as f:
        f.write("1\n")
    before = {t["ID"] for t in tasks(cluster, "app")}
    try:
        with entry_load(cluster) as load:
            res = swarm.up(check=False)
    finally:
        os.unlink(flag)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "rollback completed" in out, out[-3000:]
    figure = FIGURES["a rollout Swarm rolled back, 20 req/s on both entries"] = {
        "failed requests": sum(load.failures(live).values()), "answered": load.builds[live],
        "when": load.error_spans()}  # fmt: skip
    print(f"\nswarm rollback: {FIGURES}")
    if load.failures(live):
        print(diagnosis(cluster, load.started))
    # The failed task never took the next one down with it (services.update_policy's delay):
    # one old task served throughout, so 0 failed requests and the failing build never answered.
    assert before & {t["ID"] for t in tasks(cluster, "app")}, diagnosis(cluster, load.started)
    assert load.failures(live) == {}, load.builds
    vectors.check("swarm: state after a rollout Swarm rolled back", state(swarm, cluster))
    assert set(served_builds(cluster).values()) == {live}
    # The provider reports "rollback completed" once every replica runs during the rollback,
    # maybe before Swarm has finished it: the old task it restarted may still be in its chain
    # (the other one serves meanwhile). Both come back.
    back = time.monotonic()
    wait_for(
        lambda: task_builds(cluster, live) == [live, live], 120, 2, "both tasks on the old build"
    )
    figure["seconds until both tasks serve again"] = round(time.monotonic() - back, 1)
    controller.write_text(good)
    waited = step_ids(swarm)
    # This `up` updates the service back to the live build (the state holds the failed one's
    # inputs). Upstream sends the env in a new order, so Swarm replaces every task again, one
    # by one: `up` returns when Swarm has finished (rollout-wait ran again), every task proven.
    swarm.up()
    assert swarm.outputs()["image"] == live
    assert update_state(cluster, "app") in ("completed", ""), diagnosis(cluster, time.time() - 300)
    assert task_builds(cluster, live) == [live, live]
    assert step_ids(swarm).isdisjoint(waited), step_out(swarm)  # ran again, for this rollout
    assert f"runs {live}" in step_out(swarm), step_out(swarm)
    swarm.run("preview", "--expect-no-changes", "--diff")


def update_state(cluster: dict[str, str], service: str) -> str:
    """Swarm's own account of the service's last update ("" if it has not been updated)."""
    return node(
        cluster,
        1,
        "service",
        "inspect",
        "--format",
        "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
        f"{NAME}-{service}",
    ).strip()


def diagnosis(cluster: dict[str, str], since: float) -> str:
    """What the engines saw while requests failed: the app's tasks (when each reached its state,
    slot, node, image) and nginx's error lines (both nodes' entries) since `since` (epoch)."""
    ids = node(cluster, 1, "service", "ps", "-q", f"{NAME}-app").split()
    fmt = ("{{.Status.Timestamp}} slot {{.Slot}} {{.NodeID}} {{.Spec.ContainerSpec.Image}}"
           " desired {{.DesiredState}} {{.Status.State}} {{.Status.Err}}")  # fmt: skip
    history = node(cluster, 1, "inspect", "--format", fmt, *ids)
    logs = sh("docker", "--host", cluster["SWARM_DOCKER_HOSTS"].split()[0], "service", "logs",
              "--timestamps", "--since", str(int(since)), f"{NAME}-web", check=False,
              timeout=60)  # fmt: skip
    lines = (logs.stdout + logs.stderr).splitlines()
    errors = [ln for ln in lines if "[error]" in ln or "[warn]" in ln]
    started = time.strftime("%H:%M:%S", time.gmtime(since))
    return "\n".join([f"since {started} UTC", "app tasks:", *sorted(history.splitlines()),
                      "nginx errors:", *errors[-60:]])  # fmt: skip


def step_out(swarm: Pulumi, step: str = "rollout-wait") -> str:
    """What the last `up`'s step printed, as the stack's state holds it."""
    resources = swarm.state()["deployment"]["resources"]
    outs = [r.get("outputs", {}) for r in resources if r["urn"].endswith(f"::{step}")]
    return f"{step}: " + " / ".join(str(o.get("stdout", "")) for o in outs)


def step_ids(swarm: Pulumi, steps: tuple[str, ...] = ("rollout-wait", "fleet-check")) -> set[str]:
    """The ids of the steps' resources in the stack's state (a step run anew has a new one)."""
    resources = swarm.state()["deployment"]["resources"]
    return {r["id"] for r in resources if r["urn"].rsplit("::", 1)[-1] in steps}


def running(cluster: dict[str, str], service: str, on: str = "") -> int:
    """How many tasks of `service` run (on node `on`, if given), as the manager sees them."""
    return sum("Running" in t["CurrentState"] and on in ("", t["Node"])
               for t in tasks(cluster, service))  # fmt: skip


def mysql(cluster: dict[str, str], sql: str) -> str:
    """A query in the MySQL task (on the data node), with the root password from its own env."""
    data = len(cluster["SWARM_NODE_ADDRESSES"].split())
    label = f"label=com.docker.swarm.service.name={NAME}-mysql"
    cid = node(cluster, data, "ps", "-q", "--filter", label).split()[0]
    return node(cluster, data, "exec", cid, "sh", "-c",
                'mysql -N -uroot -p"$MYSQL_ROOT_PASSWORD" laravel -e "$0"', sql)  # fmt: skip


def test_a_node_lost_under_load_its_tasks_come_back_and_up_converges_after(swarm, cluster):
    live = swarm.outputs()["image"]
    names = cluster["SWARM_NODE_NAMES"].split()
    # Spread through every release so far: node 2 runs an app task (and the data services).
    spread = sorted(t["Node"] for t in tasks(cluster, "app"))
    if spread != sorted(names):
        print(diagnosis(cluster, time.time() - 600), step_out(swarm), sep="\n")
    assert spread == sorted(names)
    env = {**CLUSTER_ENV}
    with entry_load(cluster, 1) as load:  # node 1's entry: node 2 is the one that dies
        t0 = time.monotonic()
        sh("bash", CLUSTER, "stop-node", "2", env=env, timeout=60)
        first = cluster["SWARM_NODE_NAMES"].split()[0]
        back = wait_for(lambda: running(cluster, "app", on=first) == 2, timeout=180,
                        what="both app tasks running on node 1")  # fmt: skip
        recovered = time.monotonic() - t0
        time.sleep(5)
    failed = sum(load.failures(live).values())
    assert load.builds[live] > 0
    FIGURES["node 2 stopped (SIGKILL) under 20 req/s on node 1's entry"] = {
        "failed requests": failed, "answered": load.builds[live],
        "seconds until both app tasks run again": round(recovered, 1),
    }  # fmt: skip
    assert back
    sh("bash", CLUSTER, "start-node", "2", env=env, timeout=120)
    wait_for(lambda: "Ready" in node(cluster, 1, "node", "inspect", "--format",
                                     "{{.Status.State}}", names[1]).title(),
             timeout=120, what="node 2 ready")  # fmt: skip
    wait_for(lambda: running(cluster, "mysql") == 1, timeout=180, what="MySQL running again")
    swarm.up()  # converges (nothing to change)
    swarm.run("preview", "--expect-no-changes", "--diff")
    assert set(served_builds(cluster).values()) == {live}
    # The scheduler never ran twice in one minute, through all the releases and the node loss.
    twice = mysql(
        cluster,
        "SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:%i') m, COUNT(*) c FROM heartbeats "
        "WHERE source = 'schedule' GROUP BY m HAVING c > 1",
    )
    assert twice.strip() == "", twice
    assert int(mysql(cluster, "SELECT COUNT(*) FROM heartbeats WHERE source = 'schedule'")) > 0
    print(f"\nswarm node loss: {FIGURES}")


def test_a_rollback_by_digest_is_a_release_like_any_other(swarm, cluster):
    live, first = swarm.outputs()["image"], BUILDS["first"]
    assert live != first
    swarm.set("image.digest", first.rsplit("@", 1)[1])  # a build the registry still holds
    with entry_load(cluster) as load:
        swarm.up()
    assert swarm.outputs()["image"] == first
    assert load.failures(live, first) == {}, load.builds
    assert set(served_builds(cluster).values()) == {first}
    assert task_builds(cluster, first) == [first, first]
    swarm.rm("image.digest")
    swarm.up()
    assert swarm.outputs()["image"] == live


FIGURES: dict[str, dict[str, Any]] = {}
#: builds a later test goes back to
BUILDS: dict[str, str] = {}
