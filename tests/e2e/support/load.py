"""Traffic while a release runs: steady GETs of /up, rows written through the app; the fault
figures a suite prints."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Self

from .http import http
from .local import LOCAL_BASE


class Background:
    """A loop in a thread while the block runs: `tick` `rate` times a second, bounded in time
    (stopped after `limit_s` even if the block is still running)."""

    def __init__(self, rate: float, limit_s: float):
        self.rate, self.limit_s = rate, limit_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tick(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        end = time.monotonic() + self.limit_s
        while not self._stop.is_set() and time.monotonic() < end:
            self.tick()
            self._stop.wait(1 / self.rate)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class Load(Background):
    """Steady background traffic on /up during a deploy (bounded count and time)."""

    def __init__(
        self,
        rate: float = 10,
        limit_s: float = 900,
        base: str = LOCAL_BASE,
        get: Callable[[str], tuple[int, Any]] | None = None,
    ):
        super().__init__(rate, limit_s)
        self.base = base
        self.get = get or (lambda path: http(path, timeout=2, base=self.base))
        self.builds: Counter[str] = Counter()
        #: (seconds since the start, outcome) of every request that was not a 200
        self.errors: list[tuple[float, str]] = []
        self._start = time.monotonic()
        self.started = time.time()  # the wall clock at 0 s, to match engines' logs

    def tick(self) -> None:
        try:
            status, body = self.get("/up")
            outcome = body["build"] if status == 200 else f"HTTP {status}"
            ok = status == 200
        except Exception as err:  # a refused connection during a recreate is data too
            outcome, ok = type(err).__name__, False
        self.builds[outcome] += 1
        if not ok:
            self.errors.append((round(time.monotonic() - self._start, 1), outcome))

    def error_spans(self, gap: float = 3.0) -> list[str]:
        """The failed requests as time spans ("12.1-15.3 s: 4 TimeoutError, 1 HTTP 502")."""
        spans: list[list[tuple[float, str]]] = []
        for t, outcome in self.errors:
            if spans and t - spans[-1][-1][0] <= gap:
                spans[-1].append((t, outcome))
            else:
                spans.append([(t, outcome)])
        return [
            f"{span[0][0]}-{span[-1][0]} s: "
            + ", ".join(f"{n} {o}" for o, n in Counter(o for _, o in span).most_common())
            for span in spans
        ]

    def failures(self, *builds: str) -> dict[str, int]:
        """Every outcome that is not one of `builds` answering (errors, other statuses)."""
        return {k: n for k, n in self.builds.items() if k not in builds}


class Writer(Background):
    """Rows inserted through the app (`/db`: one row a request, answered with its id) at a
    fixed rate, bounded in time: the ids the app acknowledged, and how many requests failed."""

    def __init__(self, base: str, rate: float = 5, limit_s: float = 900):
        super().__init__(rate, limit_s)
        self.base = base
        self.acked: list[int] = []
        self.failed = 0

    def tick(self) -> None:
        try:
            status, body = http("/db", timeout=3, base=self.base)
            if status == 200 and isinstance(body, dict) and body.get("last"):
                self.acked.append(int(body["last"]["id"]))
            else:
                self.failed += 1
        except Exception:  # a refused or dropped connection is a failed write too
            self.failed += 1


def print_figures(title: str, figures: dict[str, dict[str, Any]]) -> None:
    """A suite's fault figures (README's fault table), printed when its stack is destroyed."""
    print(f"\n{title}:")
    for case, fig in figures.items():
        print(f"  {case}: {fig}")
