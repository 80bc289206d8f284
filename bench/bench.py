#!/usr/bin/env python3
"""Zero-downtime benchmark: laravel-stack vs the seeds' way, same code change, same machine.

Run after `proving-ground/bootstrap` (the pulumi toolchain and Docker must be up):

    venv/bin/python bench/bench.py [--rate 20] [--out bench/results.json]

For each contender a load generator on 127.0.0.1 sends GET /up at a fixed rate (bounded in count
and time) while a code change (APP_CODE_VERSION v1 -> v2) is deployed, and records every
response. Figures: failed requests (non-2xx, resets, timeouts), responses per build per second,
time from deploy start to the first new-build response, stale (old-build) responses after the
deploy returned, deploy wall time.

- laravel-stack: `pulumi up --skip-preview` of a throwaway stack (prefix `lsbench`, port 18180):
  the deploy a reviewed PR preview leads to. Its timeline is printed from the engines' own
  records: Pulumi's OpenTelemetry trace (`--otel-traces file://…`: the program run, the plan)
  and the Docker engine's events (each release step's execs, the containers' create, start
  and removal).
- the seeds' way (the field notes' runbook): build and push the new image, `docker rm -f app`
  and `docker run` of it in place (fixed container names), then the command sequence: cache
  clear, FPM reload (OPcache), cache rebuild, health check. Same app, same nginx, port 18181.

This is a script that prints figures; no test asserts timings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))  # the stack settings the e2e shares
from stack_settings import PASSPHRASE  # noqa: E402

LS_NAME, LS_PORT = "lsbench", 18180
SEEDS, SEEDS_PORT = "seedsbench", 18181
AFTER_S = 10.0  # keep measuring this long after the deploy returned
MAX_S = 900.0  # hard bound on any load run


def sh(*argv: str, check: bool = True, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=900, **kw)


@dataclass
class Sample:
    t: float  # seconds since the deploy started
    outcome: str  # the build that answered, or "HTTP nnn" / an error name


@dataclass
class Load:
    """GET /up at a fixed rate from a scheduler thread; a pool keeps slow requests from
    lowering the rate. Bounded by MAX_S and by the caller's stop()."""

    port: int
    rate: float
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    t0: float = 0.0

    def _one(self, sent: float) -> None:
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{self.port}/up")
            with urllib.request.urlopen(req, timeout=5) as resp:
                outcome = json.loads(resp.read())["build"] or "null-build"
        except urllib.error.HTTPError as err:
            outcome = f"HTTP {err.code}"
        except Exception as err:  # resets, refusals, timeouts: all failures
            outcome = type(err).__name__
        self.samples.append(Sample(sent - self.t0, outcome))

    def run(self) -> None:
        with ThreadPoolExecutor(max_workers=32) as pool:
            start = time.monotonic()
            n = 0
            while not self._stop.is_set() and time.monotonic() - start < MAX_S:
                pool.submit(self._one, time.monotonic())
                n += 1
                self._stop.wait(max(0.0, start + n / self.rate - time.monotonic()))

    def __enter__(self) -> Load:
        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def __exit__(self, *exc: object) -> None:
        self.stop()


def figures(load: Load, old: str, new: str, deploy_s: float) -> dict[str, Any]:
    per_second: dict[int, Counter[str]] = defaultdict(Counter)
    for s in load.samples:
        label = "old" if s.outcome == old else "new" if s.outcome == new else "failed"
        per_second[int(s.t)][label] += 1
    failed = [s for s in load.samples if s.outcome not in (old, new)]
    first_new = min((s.t for s in load.samples if s.outcome == new), default=None)
    stale_after = [s for s in load.samples if s.t > deploy_s and s.outcome == old]
    return {
        "requests": len(load.samples),
        "failed": len(failed),
        "failed_kinds": dict(Counter(s.outcome for s in failed)),
        "first_new_build_s": None if first_new is None else round(first_new, 2),
        "stale_after_deploy_returned": len(stale_after),
        "deploy_wall_s": round(deploy_s, 2),
        "per_second": {str(k): dict(v) for k, v in sorted(per_second.items())},
    }


def measure(
    port: int,
    rate: float,
    deploy: Callable[[], str],
    old: str,
    new_build: Callable[[], str] | None = None,
) -> dict[str, Any]:
    """Load before, during and AFTER_S after `deploy()`, which returns the new build (or
    `new_build()` tells it afterwards, outside the timed part). Also returns `started_at`, the
    deploy's start in epoch seconds."""
    with Load(port, rate) as load:
        time.sleep(2)  # steady state first
        started_at = time.time()
        load.t0 = time.monotonic()
        load.samples.clear()
        new = deploy()
        deploy_s = time.monotonic() - load.t0
        time.sleep(AFTER_S)
    if new_build is not None:
        new = new_build()
    return {**figures(load, old, new, deploy_s), "started_at": started_at}


# --- laravel-stack -------------------------------------------------------------------------


class Stack:
    def __init__(self, work: Path):
        self.project = work / "project"
        files = sh("git", "ls-files", "-z", cwd=REPO).stdout.split("\0")
        for rel in filter(None, files):
            dst = self.project / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dst, follow_symlinks=False)
        (self.project / "venv").symlink_to(REPO / "venv")
        shutil.copy(self.project / "Pulumi.local.yaml", self.project / "Pulumi.bench.yaml")
        (work / "state").mkdir()
        self.env = {
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{work / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }
        self.pulumi("stack", "init", "bench", stack=False)
        self.pulumi("config", "set", "name", LS_NAME)
        self.pulumi("config", "set", "--path", "web.port", str(LS_PORT))

    def pulumi(self, *args: str, stack: bool = True) -> str:
        argv = ["pulumi", *args, "--non-interactive", *(["--stack", "bench"] if stack else [])]
        return sh(*argv, cwd=self.project, env=self.env).stdout

    def change(self, version: str) -> None:
        self.pulumi("config", "set", "--path", "image.build_args.APP_CODE_VERSION", version)

    def up(self, trace: Path | None = None) -> str:
        """The deploy that is timed: `pulumi up` alone (the code change is made before)."""
        otel = ["--otel-traces", f"file://{trace}"] if trace else []
        self.pulumi("up", "--yes", "--skip-preview", *otel)
        return ""

    def image(self) -> str:
        return json.loads(self.pulumi("stack", "output", "--json"))["image"]

    def destroy(self) -> None:
        self.pulumi("destroy", "--yes")
        for vol in ["db-data", "storage"]:
            sh("docker", "volume", "rm", "-f", f"{LS_NAME}-{vol}", check=False)


# --- the timeline of one deploy, from the engines' own records ------------------------------

#: a release step, by the command its execs run (the Docker engine records each exec's argv)
STEP_EXECS = [
    ("contract", re.compile(r"^sh \S+/contract\.sh ")),
    ("ownership", re.compile(r"^find .*/storage|^sh -c for d; do test -w ")),
    ("migrate", re.compile(r"^php artisan (config:clear|migrate --force)")),
    ("cache-clear", re.compile(r"^php \S+/artisan_batch\.php \S* ?route:clear")),
    ("opcache-reset", re.compile(r"^sh \S+/fpm_reload\.sh$")),
    ("cache-rebuild", re.compile(r"^php \S+/artisan_batch\.php config:cache")),
    ("workers-restart", re.compile(r"^php artisan queue:restart")),
    ("health", re.compile(r"^php \S+/health_probe\.php fcgi://\S+ \d+ \S+ \S+@sha256:")),
    ("switch", re.compile(r"^sh \S+/proxy_switch\.sh to ")),
    ("verify", re.compile(r"^php \S+/health_probe\.php https?://\S+ \d+ \S+ \S+@sha256:")),
]


class DockerEvents:
    """`docker events` of the stack's containers during a block (bounded by MAX_S)."""

    def __enter__(self) -> DockerEvents:
        argv = ["docker", "events", "--since", f"{time.time():.3f}", "--format", "{{json .}}",
                "--filter", f"label=laravel-stack.stack={LS_NAME}"]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.timer = threading.Timer(MAX_S, self.proc.kill)
        self.timer.start()
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout or []))
        self.reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(1)
        self.timer.cancel()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.reader.join(timeout=10)


def otel_spans(trace: Path) -> list[tuple[str, float, float]]:
    """(name, start, end) in epoch seconds of every span in an OTLP JSON-lines file."""
    return [(name, start, end) for _, name, start, end in otel_rpcs(trace)]


def otel_rpcs(trace: Path) -> list[tuple[str, str, float, float]]:
    """(service, span name, start, end) of every span: the service is the process that recorded
    it (`pulumi-cli`, or a provider plugin by its package: `docker`, `command`)."""
    out = []
    for line in trace.read_text().splitlines():
        for rs in json.loads(line).get("resourceSpans", []):
            attrs = rs.get("resource", {}).get("attributes", [])
            svc = next((a["value"].get("stringValue", "?") for a in attrs
                        if a["key"] == "service.name"), "?")  # fmt: skip
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    start, end = int(sp["startTimeUnixNano"]), int(sp["endTimeUnixNano"])
                    out.append((svc, sp["name"], start / 1e9, end / 1e9))
    return out


def profile(t0: float, t1: float, rpcs: list[tuple[str, str, float, float]], rows):
    """Where the seconds of one `up` go: (seconds, what) from the trace and the timeline's rows.
    Phases on the way (from t0) and totals of work that overlaps (RPCs, plugin starts)."""

    def spans(svc: str, name: str) -> list[tuple[float, float]]:
        return [(a, b) for s, n, a, b in rpcs if s == svc and n == name]

    def total(found: list[tuple[float, float]]) -> float:
        return sum(b - a for a, b in found)

    out: list[tuple[float, str]] = []
    run = spans("pulumi-cli", "run-program")
    registers = sorted(spans("pulumi-cli", "pulumirpc.ResourceMonitor/RegisterResource"))
    if run and registers:
        start, end = min(a for a, _ in run), max(b for _, b in run)
        out.append((start - t0, "phase: CLI start, state and plan set up, until the program runs"))
        out.append((registers[0][0] - start, "phase: program start (interpreter, imports, "
                    "config validation) until its first resource"))  # fmt: skip
        out.append((end - registers[0][0], "phase: resources registered, planned and applied "
                    "(the program's run, its last outputs included)"))  # fmt: skip
        out.append((t1 - end, "phase: after the program, until `up` returned"))
    for method in ("About", "GetRequiredPackages"):
        if found := spans("pulumi-cli", f"pulumirpc.LanguageRuntime/{method}"):
            out.append((total(found), f"within: {method} of the language host"))
    if found := spans("pulumi-cli", "newPlugin"):
        out.append((total(found), f"within: {len(found)} plugin starts"))
    for svc in sorted({s for s, *_ in rpcs} - {"pulumi-cli"}):
        for method in ("Check", "Diff", "Create", "Update", "Delete", "Read"):
            if found := spans(svc, f"pulumirpc.ResourceProvider/{method}"):
                out.append((total(found), f"within: {svc} provider {method} x{len(found)}"))
    steps = sorted((a, b) for a, b, w in rows if w.startswith("step "))
    if steps:
        busy, until = 0.0, steps[0][0]  # the union of the execs' spans (some overlap)
        for a, b in steps:
            busy += max(0.0, b - max(a, until))
            until = max(until, b)
        out.append((busy, f"within: the {len(steps)} steps' execs (their work in the containers)"))
        out.append((until - steps[0][0] - busy, "within: between the steps' execs (each step's "
                    "process chain: command plugin, release_step.py, sh, docker CLI)"))  # fmt: skip
        verify = [b for a, b, w in rows if w == "step verify"]
        if verify:
            out.append((t1 - t0 - verify[0], "within: after `verify` until `up` returned "
                        "(public-prune, retention, the old containers' removal)"))  # fmt: skip
    return [(round(sec, 2), what) for sec, what in out]


def print_profile(rows) -> None:
    print("\nlaravel-stack deploy profile (s; phases add up to the wall, `within` lines overlap):")
    for sec, what in rows:
        print(f"  {sec:6.2f}  {what}")


def timeline(t0: float, t1: float, spans: list[tuple[str, float, float]], events: list[str]):
    """Rows (start s, end s, what) relative to t0 (the moment `pulumi up` was started)."""
    rows: list[tuple[float, float, str]] = [(0.0, t1 - t0, "pulumi up (wall)")]
    for name in ("run-program", "pulumi-plan"):
        found = [(a, b) for n, a, b in spans if n == name]
        if found:
            rows.append((min(a for a, _ in found) - t0, max(b for _, b in found) - t0, name))
    steps: dict[str, list[float]] = {}
    execs: dict[str, tuple[str, float]] = {}  # exec id -> (step, start)
    for line in events:
        ev = json.loads(line)
        action, at = ev.get("Action", ""), int(ev["timeNano"]) / 1e9
        attrs = ev.get("Actor", {}).get("Attributes", {})
        name = attrs.get("name", "")
        if action.startswith("exec_start: "):
            cmd = action.removeprefix("exec_start: ")
            step = next((s for s, p in STEP_EXECS if p.search(cmd)), None)
            if step:
                execs[attrs.get("execID", str(len(execs)))] = (step, at)
        elif action.startswith("exec_die") and attrs.get("execID") in execs:
            step, start = execs.pop(attrs["execID"])
            span = steps.setdefault(step, [start, at])
            span[0], span[1] = min(span[0], start), max(span[1], at)
        elif action == "kill" and attrs.get("signal") == "12":  # the seeds' way
            steps.setdefault("opcache-reset", [at, at])
        elif ev.get("Type") == "container" and action in ("create", "start", "destroy"):
            rows.append((at - t0, at - t0, f"container {action}: {name}"))
    rows += [(a - t0, b - t0, f"step {s}") for s, (a, b) in steps.items()]
    return sorted(rows)


def print_timeline(rows) -> None:
    print("\nlaravel-stack deploy timeline (s from `pulumi up`; Pulumi trace + Docker events):")
    for start, end, what in rows:
        span = (
            f"{start:6.2f} .. {end:6.2f}  ({end - start:5.2f})" if end > start else f"{start:6.2f}"
        )
        print(f"  {span:32} {what}")


# --- the seeds' way: fixed names, recreate in place, then the runbook's commands ---------


def seeds_up(image: str, db_image: str, nginx_image: str) -> None:
    net = f"{SEEDS}-internal"
    sh("docker", "network", "create", net)
    sh("docker", "run", "-d", "--name", f"{SEEDS}-mysql", "--network", net,
       "-e", "MYSQL_ROOT_PASSWORD=bench-root", "-e", "MYSQL_DATABASE=laravel",
       "-e", "MYSQL_USER=laravel", "-e", "MYSQL_PASSWORD=bench", db_image)  # fmt: skip
    for _ in range(60):
        ok = sh("docker", "exec", f"{SEEDS}-mysql", "mysql", "-uroot", "-pbench-root", "-e",
                "SELECT 1", check=False)  # fmt: skip
        if ok.returncode == 0:
            break
        time.sleep(1)
    seeds_app(image)
    sh("docker", "run", "--rm", "--user", "0", "--entrypoint", "sh",
       "-v", f"{SEEDS}-public:/mnt/public", image, "-c",
       "cp -a /var/www/html/public/. /mnt/public/ && ln -sfn ../storage/app/public "
       "/mnt/public/storage")  # fmt: skip
    conf = (REPO / "examples/images/nginx/default.conf.example").read_text()
    sh("docker", "create", "--name", f"{SEEDS}-web", "--network", net,
       "-p", f"127.0.0.1:{SEEDS_PORT}:80", "-v", f"{SEEDS}-public:/var/www/html/public:ro",
       nginx_image)  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write(conf)
        f.flush()
        sh("docker", "cp", f.name, f"{SEEDS}-web:/etc/nginx/conf.d/default.conf")
    sh("docker", "start", f"{SEEDS}-web")
    seeds_release(image)


def seeds_app(image: str) -> None:
    sh("docker", "run", "-d", "--name", f"{SEEDS}-app", "--network", f"{SEEDS}-internal",
       "--network-alias", "app", "-e", f"APP_BUILD={image}", "-e", "APP_ENV=production",
       "-e", "APP_KEY=base64:" + "A" * 43 + "=", "-e", "DB_CONNECTION=mysql",
       "-e", f"DB_HOST={SEEDS}-mysql", "-e", "DB_DATABASE=laravel", "-e", "DB_USERNAME=laravel",
       "-e", "DB_PASSWORD=bench", "-e", "LOG_CHANNEL=stderr", image)  # fmt: skip


def seeds_release(image: str) -> None:
    """The runbook's sequence after the container is up: clear, reset, rebuild, health."""
    app = f"{SEEDS}-app"
    for cmd in ["config:clear", "route:clear", "view:clear", "event:clear", "cache:clear"]:
        sh("docker", "exec", app, "php", "artisan", cmd)
    sh("docker", "kill", "--signal", "USR2", app)
    for cmd in ["config:cache", "route:cache", "view:cache", "event:cache"]:
        sh("docker", "exec", app, "php", "artisan", cmd)
    for _ in range(60):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{SEEDS_PORT}/up", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.5)
    raise RuntimeError("seeds' health check never passed")


def seeds_deploy(version: str, repository: str) -> str:
    """Build and push the new image (as their CI does), then recreate the app in place."""
    ref = f"{repository}:seeds-{version}"
    registry = repository.split("/", 1)[0]
    sh("docker", "login", registry, "--username", "deploy", "--password-stdin",
       input="local-registry-password")  # the local stack's throwaway login  # fmt: skip
    sh("docker", "build", "--quiet", "--build-arg", f"APP_CODE_VERSION={version}", "-t", ref,
       str(REPO / "examples/laravel-app"), env={**os.environ, "DOCKER_BUILDKIT": "0"})  # fmt: skip
    sh("docker", "push", "--quiet", ref)
    image = sh("docker", "inspect", "--format", "{{index .RepoDigests 0}}", ref).stdout.strip()
    sh("docker", "rm", "-f", f"{SEEDS}-app")  # recreate in place: fixed name, so delete first
    seeds_app(image)
    seeds_release(image)
    return image


def seeds_down() -> None:
    for c in ["web", "app", "mysql"]:
        sh("docker", "rm", "-f", f"{SEEDS}-{c}", check=False)
    sh("docker", "volume", "rm", "-f", f"{SEEDS}-public", check=False)
    sh("docker", "network", "rm", f"{SEEDS}-internal", check=False)


# --- report --------------------------------------------------------------------------------


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        ("requests", "requests"),
        ("failed requests", "failed"),
        ("first new-build response (s)", "first_new_build_s"),
        ("stale responses after deploy returned", "stale_after_deploy_returned"),
        ("deploy wall time (s)", "deploy_wall_s"),
    ]
    names = list(results)
    out = [f"| {'':38} | " + " | ".join(f"{n:>14}" for n in names) + " |"]
    out.append("|" + "-" * 40 + "|" + "|".join("-" * 16 for _ in names) + "|")
    for label, key in rows:
        out.append(
            f"| {label:38} | " + " | ".join(f"{results[n][key]!s:>14}" for n in names) + " |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second (default 20)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    args = ap.parse_args()
    local = yaml.safe_load((REPO / "Pulumi.local.yaml").read_text())["config"]
    db_image = local["laravel-stack:database"]["image"]
    nginx_image = local["laravel-stack:web"]["nginx_image"]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        trace = Path(tmp) / "trace.json"
        try:
            # Versions never built before, a different one for each contender: both pay the
            # same real build of the changed layers (no cache from another run or each other).
            stamp = time.strftime("%Y%m%d%H%M%S")
            stack.change(f"v1-{stamp}")
            stack.up()
            v1 = stack.image()
            stack.change(f"v2-{stamp}-ls")
            with DockerEvents() as events:
                result = measure(LS_PORT, args.rate, lambda: stack.up(trace), v1, stack.image)
            results["laravel-stack"] = result
            t0 = result.pop("started_at")
            rows = timeline(t0, t0 + result["deploy_wall_s"], otel_spans(trace), events.lines)
            results["laravel-stack"]["timeline"] = [
                {"start_s": round(a, 2), "end_s": round(b, 2), "what": w} for a, b, w in rows
            ]
            t1 = t0 + result["deploy_wall_s"]
            results["laravel-stack"]["profile"] = [
                {"s": sec, "what": w} for sec, w in profile(t0, t1, otel_rpcs(trace), rows)
            ]
        finally:
            stack.destroy()
    seeds_down()
    try:
        seeds_up(v1, db_image, nginx_image)
        repository = local["laravel-stack:image"]["repository"]
        results["seeds' way"] = measure(
            SEEDS_PORT, args.rate, lambda: seeds_deploy(f"v2-{stamp}-seeds", repository), v1
        )
        results["seeds' way"].pop("started_at")
    finally:
        seeds_down()
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "rate_per_s": args.rate,
        "measured_after_deploy_s": AFTER_S,
        "change": "APP_CODE_VERSION v1 -> v2 (a version never built before: new image digest)",
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    print_timeline(
        [(r["start_s"], r["end_s"], r["what"]) for r in results["laravel-stack"]["timeline"]]
    )
    print_profile([(r["s"], r["what"]) for r in results["laravel-stack"]["profile"]])
    print(f"\nfull figures (per-second responses per build): {args.out}")


if __name__ == "__main__":
    main()
