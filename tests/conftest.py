import sys
from pathlib import Path
from typing import Any

import pytest

# The program imports `components` the way `pulumi up` runs it: from the project root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: the e2e suites, longest first: scripts/test runs them side by side (pytest-xdist, --dist
#: loadfile), each file on one worker, in this order: the longest start first; the short ones and
#: the unit tests fill in
SUITE_ORDER = [
    "e2e/test_swarm_stack.py",
    # one worker runs these three one after another: the engine restarts of the first two (which
    # run alone, see e2e/support/lock.py) never meet the third's ACME server, which does not
    # survive one, and wait for no other suite of the three
    "e2e/test_local_stack.py",
    "e2e/test_faults.py",
    "e2e/test_tls_stack.py",
    "e2e/test_ops_stack.py",
    "e2e/test_remote_stack.py",
    "e2e/test_swarm_cluster.py",
    "e2e/test_l13_stack.py",
    "e2e/test_l10_stack.py",
    "e2e/test_byo_stack.py",
    "e2e/test_bootstrap.py",
]
SAME_WORKER = {"e2e/test_local_stack.py", "e2e/test_faults.py", "e2e/test_tls_stack.py"}


def _rel(item: pytest.Item) -> str:
    return Path(str(item.path)).relative_to(Path(__file__).parent).as_posix()


def _rank(item: pytest.Item) -> int:
    rel = _rel(item)
    return SUITE_ORDER.index(rel) if rel in SUITE_ORDER else len(SUITE_ORDER)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Each test file on one worker (as --dist loadfile), the files of SAME_WORKER together."""
    from xdist.scheduler import LoadScopeScheduling

    class SuiteScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0]
            return "engine restarts" if path.removeprefix("tests/") in SAME_WORKER else path

    return SuiteScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: each file's own order stays


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
