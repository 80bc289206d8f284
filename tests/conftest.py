import sys
from pathlib import Path

import pytest

# The program imports `components` the way `pulumi up` runs it: from the project root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: the e2e suites, longest first: scripts/test runs them side by side (pytest-xdist, --dist
#: loadgroup), each file on one worker, in this order: the longest start first; the short ones and
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


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: each file's own order stays
    for item in items:
        rel = _rel(item)
        item.add_marker(pytest.mark.xdist_group("engine-restarts" if rel in SAME_WORKER else rel))


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
