"""The engine's own record of a release: `docker events` of a stack's containers, and the
release chain's steps read from its execs."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
import time

from .local import NAME


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
