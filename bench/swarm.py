#!/usr/bin/env python3
"""A code change on Docker Swarm under load: the swarm stack's release vs `docker stack deploy`.

Run as root after `proving-ground/bootstrap` (it starts a cluster of its own,
LARAVEL_STACK_SWARM_ID=4):

    . /var/cache/laravel-stack/toolchain/env.sh
    venv/bin/python bench/swarm.py [--runs 1] [--rev HEAD] [--out bench/swarm.json]

`proving-ground/swarm-cluster` makes a Swarm of 2 nodes; two ways of running the example app live on
it side by side: the swarm stack (`swarm.enabled`, name `lsbswarm`, port 18092, its release is
`pulumi up --skip-preview` after `image.build_args.APP_CODE_VERSION` changed) and the Swarm users'
own way as Spin by serversideup does it (`bench/swarm-compose.yml`, stack `lsbcompose`, port
18093: `docker stack deploy --with-registry-auth` of the new digest, built and pushed with the
same build args before the timed command, a start-first, health-checked rolling update; no MySQL
as GET /up needs none). Both come up at v1 (not measured), then each way's code change (v1 -> v2,
then v3, ...) is measured `--runs` times, the order alternating, under GET /up at `--rate` req/s
spread over both nodes' entry points (timeout 2 s). Figures per way and run: failed requests
during the release, old-build responses after the deploy command returned (a burst of `--burst`
requests right after it, then the steady load), the deploy command's wall time, the time until
every request answers the new build, and when Swarm marked the app service's update completed.
Each way's image carries a marker file of its own (config/bench_way.php), so each release builds
its changed layers for real. The project copied is the working tree (tracked and untracked files
not ignored), or `--rev`'s tree. This is a script that prints figures; no test asserts timings.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import io
import itertools
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))  # the stack settings the e2e shares
import stack_settings  # noqa: E402

CLUSTER_ID = "4"  # 0, 2 and 3 belong to the test suites
CLUSTER_ENV = {**os.environ, "LARAVEL_STACK_SWARM_ID": CLUSTER_ID}
STACK, NAME, PORT = "bswarm", "lsbswarm", 18092
COMPOSE, COMPOSE_PORT = "lsbcompose", 18093
REGISTRY = "127.0.0.1:5001"
STACK_REPO = f"{REGISTRY}/laravel-stack/bench-swarm"
COMPOSE_REPO = f"{REGISTRY}/laravel-stack/bench-swarm-compose"
# proving-ground/bootstrap-docker.sh's throwaway
REGISTRY_LOGIN = ("deploy", "local-registry-password")
NGINX_IMAGE = "127.0.0.1:5000/laravel-stack/nginx:bookworm"
REDIS_IMAGE = stack_settings.REDIS_IMAGE
APP = "examples/laravel-app"

#: the compose way's nginx: swarm_nginx_conf (components/core/files.py) without the shared public/
#: (GET /up is PHP alone): `tasks.<app>` resolved per request, at most a second old.
NGINX_CONF = """server {
    listen 80 default_server;
    server_name _;
    resolver 127.0.0.11 valid=1s ipv6=off;
    resolver_timeout 2s;
    set $app_tasks tasks.%(service)s:9000;

    location / {
        fastcgi_pass $app_tasks;
        fastcgi_connect_timeout 1s;
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME /var/www/html/public/index.php;
        fastcgi_param DOCUMENT_ROOT /var/www/html/public;
        fastcgi_param HTTP_PROXY "";
    }
}
"""


def sh(*argv: str, check: bool = True, timeout: float = 1200, **kw: Any) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and res.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} ... exited {res.returncode}:\n"
                 f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}")  # fmt: skip
    return res.stdout


def get_up(base: str, timeout: float = 2) -> str:
    """One GET /up: the build that answered, or what went wrong (`HTTP 502`, `timeout`, ...)."""
    req = urllib.request.Request(f"{base}/up", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return str(json.loads(resp.read())["build"])
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code}"
    except urllib.error.URLError as err:
        return type(err.reason).__name__ if isinstance(err.reason, Exception) else str(err.reason)
    except Exception as err:  # a reset, a timeout, a body that is not the app's JSON
        return type(err).__name__


class Load:
    """GET /up at `rate` req/s round-robin over `bases`, each request in a thread of a bounded
    pool (a slow answer never slows the rate), for at most `limit_s`: (sent, outcome) pairs,
    `sent` on the monotonic clock."""

    def __init__(self, bases: list[str], rate: float, limit_s: float = 900):
        self.bases, self.rate, self.limit_s = itertools.cycle(bases), rate, limit_s
        self.records: list[tuple[float, str, str]] = []  # sent, entry, outcome
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=int(rate * 2) + 8)  # rate x timeout in flight
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self, base: str, sent: float) -> None:
        outcome = get_up(base)
        with self._lock:
            self.records.append((sent, base, outcome))

    def _run(self) -> None:
        start = due = time.monotonic()
        while not self._stop.is_set() and time.monotonic() - start < self.limit_s:
            self._pool.submit(self._one, next(self.bases), time.monotonic())
            due += 1 / self.rate
            self._stop.wait(max(0.0, due - time.monotonic()))

    def snapshot(self) -> list[tuple[float, str, str]]:
        with self._lock:
            return sorted(self.records)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)


def wait_serving(bases: list[str], build: str, timeout: float = 300) -> None:
    """Until 20 requests in a row, over every entry, answer `build` (bounded)."""
    deadline, streak = time.monotonic() + timeout, 0
    for base in itertools.cycle(bases):
        streak = streak + 1 if get_up(base) == build else 0
        if streak >= 20:
            return
        if time.monotonic() > deadline:
            sys.exit(f"not every entry answers {build} after {timeout} s")
        time.sleep(0.1)


def copy_project(dst: Path, rev: str | None) -> None:
    """The project as `git ls-files` sees it (tracked and untracked files, ignored ones not), or
    the tree of commit `rev`."""
    if rev:
        data = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
            tar.extractall(dst, filter="tar")
    else:
        listed = sh("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
        for rel in sorted(set(filter(None, listed.split("\0")))):
            if os.path.lexists(REPO / rel):  # a tracked file deleted in the tree is not copied
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / rel, dst / rel, follow_symlinks=False)
    (dst / "venv").symlink_to(REPO / "venv")


def mark(app: Path, way: str) -> None:
    """A file only this way's images hold: no build cache shared with the other way."""
    (app / "config/bench_way.php").write_text(f"<?php\n\nreturn ['way' => '{way}'];\n")


def remove_local_images(repository: str) -> None:
    """This machine's images of `repository` (the bench's builds: its marker file makes them
    its own)."""
    for image in set(sh("docker", "image", "ls", "-q", repository, check=False).split()):
        sh("docker", "rmi", "-f", image, check=False)


class StackWay:
    """The swarm stack (swarm.enabled), configured as tests/e2e/test_swarm_stack.py does."""

    label = "laravel-stack"
    bases: list[str]

    def __init__(self, work: Path, cluster: dict[str, str], agent: dict[str, str], rev: str | None):
        self.project = work / "stack"
        copy_project(self.project, rev)
        mark(self.project / APP, "laravel-stack")
        shutil.copy(self.project / "Pulumi.local.yaml", self.project / f"Pulumi.{STACK}.yaml")
        (work / "state").mkdir()
        self.env = {**os.environ, **agent, "PULUMI_BACKEND_URL": f"file://{work / 'state'}",
                    "PULUMI_CONFIG_PASSPHRASE": stack_settings.PASSPHRASE,
                    "PULUMI_SKIP_UPDATE_CHECK": "true", "NO_COLOR": "1"}  # fmt: skip
        self.pulumi("stack", "init", STACK, stack=False)
        shared = self.shared = stack_settings.swarm_shared_dir(NAME, cluster)
        settings = stack_settings.swarm(NAME, "bswarm", PORT, cluster, shared)
        for key, value in {**settings, "image.repository": STACK_REPO}.items():
            # set-all: a value may start with "--"
            self.pulumi("config", "set-all", "--path", "--plaintext", f"{key}={value}")
        self.bases = [f"http://{a}:{PORT}" for a in cluster["SWARM_NODE_ADDRESSES"].split()]
        self.service = f"{NAME}-app"

    def pulumi(self, *args: str, stack: bool = True, check: bool = True) -> str:
        argv = ["pulumi", *args, "--non-interactive", *(["--stack", STACK] if stack else [])]
        return sh(*argv, cwd=self.project, env=self.env, check=check)

    def prepare(self, version: str) -> float:
        """Nothing before the timed command (its `up` builds and pushes): 0 s."""
        self.pulumi("config", "set", "--path", "image.build_args.APP_CODE_VERSION", version)
        return 0.0

    def deploy(self) -> str:
        self.pulumi("up", "--yes", "--skip-preview")
        return str(json.loads(self.pulumi("stack", "output", "--json"))["image"])

    def destroy(self) -> None:
        self.pulumi("destroy", "--yes", check=False)
        shutil.rmtree(self.shared, ignore_errors=True)
        remove_local_images(STACK_REPO)


class ComposeWay:
    """`docker stack deploy` of bench/swarm-compose.yml against the manager's engine."""

    label = "docker stack deploy"
    bases: list[str]

    def __init__(self, work: Path, cluster: dict[str, str], docker_config: str, rev: str | None):
        self.dir = work / "compose"
        self.context = self.dir / "app"
        tree = work / "compose-tree"
        copy_project(tree, rev)
        shutil.copytree(tree / APP, self.context, symlinks=True)
        shutil.rmtree(tree)
        mark(self.context, "compose")
        shutil.copy(REPO / "bench/swarm-compose.yml", self.dir / "docker-compose.yml")
        (self.dir / "nginx.conf").write_text(NGINX_CONF % {"service": f"{COMPOSE}_app"})
        self.docker = ["docker", "--config", docker_config]
        self.manager = cluster["SWARM_DOCKER_HOSTS"].split()[0]
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.env = {**os.environ, "APP_KEY": f"base64:{key}", "PORT": str(COMPOSE_PORT),
                    "NGINX_IMAGE": NGINX_IMAGE, "REDIS_IMAGE": REDIS_IMAGE}  # fmt: skip
        self.bases = [f"http://{a}:{COMPOSE_PORT}" for a in cluster["SWARM_NODE_ADDRESSES"].split()]
        self.service = f"{COMPOSE}_app"
        self.image = ""

    def prepare(self, version: str) -> float:
        """Build and push the new build (as the stack builds it): its seconds, not timed."""
        t0, tag = time.monotonic(), f"{COMPOSE_REPO}:{version}"
        sh(*self.docker, "build", "-q", "--build-arg", f"APP_CODE_VERSION={version}", "-t", tag,
           str(self.context))  # fmt: skip
        sh(*self.docker, "push", "-q", tag)
        digest = sh("docker", "image", "inspect", "--format", "{{json .RepoDigests}}", tag)
        self.image = next(d for d in json.loads(digest) if d.startswith(COMPOSE_REPO + "@"))
        return time.monotonic() - t0

    def deploy(self) -> str:
        sh(*self.docker, "--host", self.manager, "stack", "deploy", "--detach=true",
           "--with-registry-auth", "-c", "docker-compose.yml", COMPOSE,
           cwd=self.dir, env={**self.env, "APP_IMAGE": self.image})  # fmt: skip
        return self.image

    def destroy(self) -> None:
        sh(*self.docker, "--host", self.manager, "stack", "rm", COMPOSE, check=False)
        remove_local_images(COMPOSE_REPO)


Way = StackWay | ComposeWay


def update_done(manager: str, service: str, t0_wall: float) -> float | None:
    """When Swarm marked the service's last update completed, seconds after `t0_wall`."""
    out = sh("docker", "--host", manager, "service", "inspect", "--format",
             "{{json .UpdateStatus}}", service, check=False)  # fmt: skip
    status = json.loads(out or "null") or {}
    if status.get("State") != "completed" or not status.get("CompletedAt"):
        return None
    stamp = status["CompletedAt"].rstrip("Z")[:26]  # RFC 3339 with ns: microseconds suffice
    done = datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.UTC)
    return round(done.timestamp() - t0_wall, 2)


def release(way: Way, version: str, manager: str, args: argparse.Namespace) -> dict[str, Any]:
    """One code change of `way` under load, and its figures."""
    old = get_up(way.bases[0])
    prepare_s = way.prepare(version)
    with Load(way.bases, args.rate) as load:
        time.sleep(2)  # the load runs before the command starts
        t0, t0_wall = time.monotonic(), time.time()
        new = way.deploy()
        returned = time.monotonic()
        entries = itertools.cycle(way.bases)
        burst = [get_up(next(entries)) for _ in range(args.burst)]
        # Until every answer for --tail seconds was the new build (bounded).
        while time.monotonic() - returned < args.max_wait:
            time.sleep(0.5)
            records = load.snapshot()
            last_other = max((s for s, _, o in records if o != new), default=t0)
            if time.monotonic() - max(last_other, returned) >= args.tail:
                break
    records = load.snapshot()
    others = [s for s, _, o in records if o != new]
    first_all_new = min((s for s, _, o in records if s > max(others, default=0)), default=None)
    failures: dict[str, int] = {}
    failed_at = []  # when each failed request was sent (s after the command started), where
    for sent, entry, outcome in records:
        if outcome not in (old, new):
            failures[outcome] = failures.get(outcome, 0) + 1
            failed_at.append(f"{sent - t0:.2f} {entry} {outcome}")
    after = [o for s, _, o in records if s >= returned]
    return {
        "old": old,
        "new": new,
        "prepare_s": round(prepare_s, 2),
        "deploy_s": round(returned - t0, 2),
        "requests": len(records),
        "failed": sum(failures.values()),
        "failures": failures,
        "failed_at": failed_at,
        "new_build_responses": sum(o == new for _, _, o in records),
        "old_after_return_burst": sum(o == old for o in burst),
        "failed_after_return_burst": sum(o not in (old, new) for o in burst),
        "old_after_return_load": sum(o == old for o in after),
        "failed_after_return_load": sum(o not in (old, new) for o in after),
        "after_return_load_s": round(max(s for s, _, _ in records) - returned, 1),
        "all_new_s": None if first_all_new is None else round(first_all_new - t0, 2),
        "swarm_update_completed_s": update_done(manager, way.service, t0_wall),
    }


ROWS = [
    ("build + push before the command (s)", "prepare_s"),
    ("deploy command wall time (s)", "deploy_s"),
    ("requests during the release", "requests"),
    ("failed requests", "failed"),
    ("old build after return: burst", "old_after_return_burst"),
    ("old build after return: load", "old_after_return_load"),
    ("all answers new build from (s)", "all_new_s"),
    ("Swarm update completed at (s)", "swarm_update_completed_s"),
]


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the runs, and every failure of every run."""
    out: dict[str, Any] = {}
    for _, key in ROWS:
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = round(statistics.median(values), 2) if values else None
    failures: dict[str, int] = {}
    for r in runs:
        for kind, n in r["failures"].items():
            failures[kind] = failures.get(kind, 0) + n
    out["failed_all_runs"] = sum(failures.values())
    out["failures_all_runs"] = failures
    return out


def print_table(results: dict[str, list[dict[str, Any]]]) -> None:
    labels = list(results)
    print(f"\n{'':40}" + "".join(f"{label:>24}" for label in labels))
    for title, key in ROWS:
        cells = []
        for label in labels:
            values = [r[key] for r in results[label]]
            cells.append(" ".join("-" if v is None else str(v) for v in values))
        print(f"{title:40}" + "".join(f"{c:>24}" for c in cells))
    for label in labels:
        print(f"failures, {label}: {summary(results[label])['failures_all_runs'] or 'none'}")
        for run, figures in enumerate(results[label], 1):
            if sent := [float(f.split()[0]) for f in figures["failed_at"]]:
                kinds = sorted({f.split()[2] for f in figures["failed_at"]})
                print(f"  run {run}: {len(sent)} sent {min(sent)} .. {max(sent)} s after the "
                      f"command started ({', '.join(kinds)})")  # fmt: skip


def end_ssh_masters(manager: str, known_hosts: str) -> None:
    """The stack's shared SSH connections to this cluster (their path names the pinned key's
    hash), each asked to exit through its own control socket."""
    pins = hashlib.sha256(known_hosts.encode()).hexdigest()[:8]
    for sock in Path("/tmp").glob(f"laravel-stack-{NAME}-{pins}-*"):
        sh("ssh", "-o", f"ControlPath={sock}", "-O", "exit", f"deploy@{manager}", check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--runs", type=int, default=1, help="code changes per way (default 1)")
    ap.add_argument("--rate", type=float, default=20, help="GET /up per second (default 20)")
    ap.add_argument("--burst", type=int, default=40, help="requests right after the command")
    ap.add_argument("--tail", type=float, default=10, help="s of new-build-only answers to end")
    ap.add_argument("--max-wait", type=float, default=240, help="s after the command, at most")
    ap.add_argument("--rev", help="copy this commit's tree instead of the working tree")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "swarm.json")
    args = ap.parse_args()
    if os.geteuid() != 0 or not os.environ.get("PULUMI_HOME") or not shutil.which("pulumi"):
        sys.exit("run as root after `. /var/cache/laravel-stack/toolchain/env.sh`")
    tree = sh("git", "describe", "--always", *([args.rev] if args.rev else ["--dirty"]), cwd=REPO)
    results: dict[str, list[dict[str, Any]]] = {}
    ways: list[Way] = []
    cluster: dict[str, str] = {}
    agent: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            out = sh("bash", str(REPO / "proving-ground/swarm-cluster"), "up", env=CLUSTER_ENV,
                     timeout=300)  # fmt: skip
            cluster = dict(
                (k, v.strip("'"))
                for k, v in (ln.split("=", 1) for ln in out.splitlines() if "=" in ln)
            )
            manager = cluster["SWARM_DOCKER_HOSTS"].split()[0]
            agent = dict(p.split("=", 1) for p in sh("ssh-agent", "-s").replace(";", "\n").split()
                         if p.startswith(("SSH_AUTH_SOCK=", "SSH_AGENT_PID=")))  # fmt: skip
            sh("ssh-add", "-q", cluster["SWARM_KEY"], env={**os.environ, **agent})
            config = str(work / "docker-config")
            sh("docker", "--config", config, "login", REGISTRY, "-u", REGISTRY_LOGIN[0],
               "--password-stdin", input=REGISTRY_LOGIN[1])  # fmt: skip
            ways.append(StackWay(work, cluster, agent, args.rev))
            ways.append(ComposeWay(work, cluster, config, args.rev))
            for way in ways[::-1]:  # both at v1, not measured (the quick one first)
                print(f"{way.label}: v1 ...", flush=True)
                way.prepare("v1")
                wait_serving(way.bases, way.deploy())
            for run in range(1, args.runs + 1):
                version = f"v{run + 1}"
                for way in ways if run % 2 else ways[::-1]:
                    print(f"run {run}: {way.label} -> {version} ...", flush=True)
                    figures = release(way, version, manager, args)
                    results.setdefault(way.label, []).append(figures)
                    shown = {k: v for k, v in figures.items() if k not in ("old", "new")}
                    print(f"  {json.dumps(shown)}", flush=True)
        finally:
            for way in ways:
                way.destroy()
            if cluster:
                end_ssh_masters(cluster["SWARM_MANAGER"], cluster["SWARM_KNOWN_HOSTS"])
            if "SSH_AGENT_PID" in agent:
                os.kill(int(agent["SSH_AGENT_PID"]), signal.SIGTERM)
            sh("bash", str(REPO / "proving-ground/swarm-cluster"), "down", env=CLUSTER_ENV,
               timeout=300, check=False)  # fmt: skip
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "tree": tree.strip() + ("" if args.rev else " (working tree)"),
        "cluster": "proving-ground/swarm-cluster, 2 nodes on this machine",
        "load": {
            "rate": args.rate,
            "timeout_s": 2,
            "path": "/up",
            "burst": args.burst,
            "entries": "both nodes, round-robin",
        },
        "change": "APP_CODE_VERSION",
        "compose_way": "bench/swarm-compose.yml (no MySQL: GET /up needs none)",
        "summary": {label: summary(runs) for label, runs in results.items()},
        "runs": results,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(results)


if __name__ == "__main__":
    main()
