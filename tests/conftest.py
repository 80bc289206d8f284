import sys
from pathlib import Path
from typing import Any

import pytest

# The program imports `components` the way `pulumi up` runs it: from the project root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: scripts/test runs the test files in these lanes, side by side: one pytest-xdist worker per
#: lane, each lane's files one after another in this order (the unit tests at the end of the
#: first). The lanes are balanced by their files' wall times (docs/contributing/e2e.md). The
#: remote and fault suites share the SSH test server: one after the other. TLS holds the engine
#: lock shared for its whole run (engine_steady: its ACME server does not survive an engine
#: restart): after the local suite, whose engine restarts (engine_alone) would otherwise wait for
#: it (support/lock.py).
LANES = [
    ["e2e/test_swarm_stack.py", "e2e/test_l13_stack.py", "e2e/test_byo_stack.py",
     "e2e/test_bootstrap.py", "unit/"],
    ["e2e/test_local_stack.py", "e2e/test_tls_stack.py", "e2e/test_ops_stack.py"],
    ["e2e/test_remote_stack.py", "e2e/test_faults.py", "e2e/test_swarm_cluster.py",
     "e2e/test_l10_stack.py"],
]  # fmt: skip


def _rel(path: Any) -> str:
    return Path(str(path)).relative_to(Path(__file__).parent).as_posix()


def _place(rel: str) -> tuple[int, int]:
    """(lane, position in it) of a test file, by its path or a folder above it."""
    for lane, files in enumerate(LANES):
        for pos, entry in enumerate(files):
            if rel == entry or (entry.endswith("/") and rel.startswith(entry)):
                return lane, pos
    return 0, len(LANES[0])


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """One scope per lane: xdist gives each worker a whole lane (fewer workers: several)."""
    from xdist.scheduler import LoadScopeScheduling

    class LaneScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return f"lane {_place(nodeid.split('::')[0].removeprefix('tests/'))[0] + 1}"

    return LaneScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: _place(_rel(item.path)))  # stable: each file's own order stays


#: test file -> [first setup's start, last teardown's end, worker] (wall clock)
_SPANS: dict[str, list] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    start, stop = getattr(report, "start", None), getattr(report, "stop", None)
    if start is None or stop is None:
        return
    span = _SPANS.setdefault(report.nodeid.split("::")[0], [start, stop, ""])  # (nodeid@group)
    span[0], span[1] = min(span[0], start), max(span[1], stop)
    node = getattr(report, "node", None)  # the xdist worker that ran it (on the controller)
    if node is not None and not span[2]:
        span[2] = node.gateway.id


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or not _SPANS:
        return
    t0 = min(s[0] for s in _SPANS.values())
    terminalreporter.section("wall time per test file (first setup to last teardown)")
    for path, (start, stop, worker) in sorted(_SPANS.items(), key=lambda kv: kv[1][0]):
        terminalreporter.write_line(
            f"{stop - start:7.1f}s  {path}  (+{start - t0:.0f}s to +{stop - t0:.0f}s"
            f"{', ' + worker if worker else ''})"
        )
