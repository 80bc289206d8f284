"""End-to-end fixtures: the real `pulumi` CLI against the real Docker engine.

Nothing here skips: a missing toolchain or engine is a failure (run proving-ground/bootstrap first;
scripts/test does).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conformance import Vectors
from .support.engine import docker_cleanup
from .support.local import NAME, PORT, STACK
from .support.lock import EngineLock, running_containers, wait_settled
from .support.pulumi import Pulumi, append_line, new_project
from .support.shell import sh


@pytest.fixture(scope="session")
def vectors() -> Iterator[Vectors]:
    v = Vectors()
    yield v
    v.save()


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


# The suites side by side (scripts/test: pytest-xdist, the lanes of tests/conftest.py): one
# engine, shared. See support/lock.py.
ENGINE_LOCK = EngineLock()
#: one line per engine_alone test: how long it waited for the other suites' tests in flight
LOCK_LOG = os.environ.get("LARAVEL_STACK_LOCK_LOG", "")
#: the engine_steady modules whose run holds the lock shared (in this process)
_STEADY_HELD: set[Path] = set()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "engine_alone: restarts this machine's engine: no other e2e test "
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
        with ENGINE_LOCK.exclusive() as waited:
            if LOCK_LOG:  # what running alone cost: the other suites stood still meanwhile
                append_line(LOCK_LOG, f"{waited:6.1f}s  {item.nodeid}")
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
