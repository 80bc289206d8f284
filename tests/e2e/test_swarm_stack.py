"""The swarm stack (issue 21) on the test cluster (scripts/swarm-cluster, a cluster of its own:
LARAVEL_STACK_SWARM_ID=2): two engines in network namespaces, one Swarm, the manager reached
over SSH with a pinned key. The app runs as services across both nodes; evidence comes from
the nodes' engines (their own sockets) and from every task, reached one by one.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from .conftest import REPO, Load, Pulumi, http, new_project, sh

STACK = "e2e-swarm"  # never shared with another suite's stack
NAME = "lssw"
PORT = 18091
CLUSTER_ID = "2"  # the cluster suite uses 0: each suite has a cluster of its own
CLUSTER = str(REPO / "scripts/swarm-cluster")
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
    subprocess.run(["pkill", "-f", f"laravel-stack-{NAME}-"], check=False)
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
    shared = os.path.join(cluster["SWARM_SHARED"], NAME)
    for sub in ("storage", "public"):
        os.makedirs(os.path.join(shared, sub), exist_ok=True)
        os.chown(os.path.join(shared, sub), 33, 33)
    p = new_project(tmp_path_factory, STACK)
    p.env.update(SSH_AUTH_SOCK=cluster["SSH_AUTH_SOCK"])
    settings = {
        "name": NAME,
        "docker.host": f"ssh://deploy@{cluster['SWARM_MANAGER']}",
        "docker.known_hosts[0]": cluster["SWARM_KNOWN_HOSTS"],
        "image.tag": "swarm",
        "web.port": str(PORT),
        "web.replicas": "2",
        "web.command[0]": "php-fpm8.2",
        "web.command[1]": "--nodaemonize",
        "web.command[2]": "--force-stderr",
        "swarm.enabled": "true",
        # A bind of one directory every node's engine sees stands in for NFS.
        "swarm.storage.driver_options.type": "none",
        "swarm.storage.driver_options.o": "bind",
        "swarm.storage.driver_options.device": shared,
        "swarm.converge_timeout": "180",
        "redis.enabled": "true",
        "redis.image": "127.0.0.1:5000/laravel-stack/redis:7",
        "app.extra_env.CACHE_DRIVER": "redis",
        "app.extra_env.SESSION_DRIVER": "redis",
        "app.extra_env.QUEUE_CONNECTION": "redis",
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


def test_up_from_scratch_spreads_web_tasks_pins_data_and_answers_on_every_node(swarm, cluster):
    swarm.up()
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
    assert task_builds(cluster, build) == [build, build]
    swarm.run("preview", "--expect-no-changes", "--diff")


def started(cluster: dict[str, str], step: str, since: float) -> int:
    """How many one-shots of `step` the manager's engine started since `since` (its events)."""
    out = node(cluster, 1, "events", "--since", str(int(since)), "--until", str(int(time.time())),
               "--filter", "event=start", "--filter", f"label=laravel-stack.step={step}",
               "--format", "{{.ID}}")  # fmt: skip
    return len(out.split())


def test_a_code_change_rolls_out_under_load_with_every_task_proven(swarm, cluster):
    old = swarm.outputs()["image"]
    swarm.set("image.build_args.APP_CODE_VERSION", "v2")
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
    assert started(cluster, "migrate", since) == 1  # exactly once for the release
    print(f"\nswarm code change under 20 req/s: {dict(load.builds)}")
    swarm.run("preview", "--expect-no-changes", "--diff")
