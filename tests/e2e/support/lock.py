"""One Docker engine, several suites at once (scripts/test runs the test files side by side):
a readers-writer lock across the pytest processes. Every e2e test holds it shared for its whole
run (setup with the module's fixtures, call, teardown); a test that restarts this machine's
engine (marked `engine_alone`) holds it exclusive,
so that nothing else runs meanwhile. Writer-preferring, so the marked tests are not starved:
readers pass a turnstile (a file taken exclusively for a moment) before they take the shared
lock; a writer holds the turnstile while it waits for the readers to drain.

Re-entrant for readers within one process: a suite may hold the shared lock for its whole
module (its fixtures do not survive an engine restart) while its tests take it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

#: the directory of the lock files: one per machine (two runs share the engine too)
LOCK_DIR = Path(os.environ.get("LARAVEL_STACK_CACHE", "/var/cache/laravel-stack")) / "locks"


class EngineLock:
    def __init__(self, directory: Path = LOCK_DIR):
        self.turnstile = directory / "e2e-engine.turnstile"
        self.rw = directory / "e2e-engine.rw"
        self._readers = 0
        self._rw_file: IO[str] | None = None

    def _open(self, path: Path) -> IO[str]:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a")

    def acquire_shared(self) -> None:
        if self._readers == 0:
            with self._open(self.turnstile) as turnstile:
                fcntl.flock(turnstile, fcntl.LOCK_EX)  # behind any writer already waiting
                rw = self._open(self.rw)
                fcntl.flock(rw, fcntl.LOCK_SH)
            self._rw_file = rw  # (the turnstile is released as its file closes)
        self._readers += 1

    def release_shared(self) -> None:
        self._readers -= 1
        if self._readers == 0 and self._rw_file:
            self._rw_file.close()
            self._rw_file = None

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        self.acquire_shared()
        try:
            yield
        finally:
            self.release_shared()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[float]:
        """Yields the seconds it waited for the other suites' tests to end."""
        assert self._readers == 0, "an exclusive hold inside a shared one would never be granted"
        t0 = time.monotonic()
        with self._open(self.turnstile) as turnstile:
            fcntl.flock(turnstile, fcntl.LOCK_EX)  # new readers wait from here on
            with self._open(self.rw) as rw:
                fcntl.flock(rw, fcntl.LOCK_EX)  # the readers in flight drain
                yield time.monotonic() - t0


def running_containers() -> set[str]:
    out = subprocess.run(["docker", "ps", "-q", "--no-trunc"], capture_output=True, text=True,
                         timeout=60, check=False).stdout  # fmt: skip
    return set(out.split())


def unsettled(ids: set[str]) -> list[str]:
    """Of the containers running before an engine restart, those not back yet: a restart policy
    brings them back, and each must be running (not restarting) and, with a health check, past
    `starting`. Containers without a restart policy, and those removed meanwhile, are not
    waited for."""
    if not ids:
        return []
    res = subprocess.run(["docker", "inspect", *sorted(ids)], capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    waiting = []
    for c in json.loads(res.stdout or "[]"):  # (removed ones: only an error line each)
        if c["HostConfig"].get("RestartPolicy", {}).get("Name", "no") in ("", "no"):
            continue
        state = c["State"]
        health = (state.get("Health") or {}).get("Status", "")
        if state["Status"] != "running" or state.get("Restarting") or health == "starting":
            waiting.append(f"{c['Name'].lstrip('/')}: {state['Status']} {health}".strip())
    return waiting


def wait_settled(ids: set[str], timeout: float = 180) -> None:
    """After a test that restarted the engine, before the other suites go on: their stacks'
    containers back (bounded; a stack still not back is reported, and its suite's own
    assertions say what that breaks)."""
    deadline = time.monotonic() + timeout
    while (left := unsettled(ids)) and time.monotonic() < deadline:
        time.sleep(1)
    if left:
        print(f"engine lock: not back {timeout:.0f}s after the restart: {left}", file=sys.stderr)
