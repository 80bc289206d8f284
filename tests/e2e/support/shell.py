"""Commands: a bounded `subprocess.run`, a signal to a whole process tree."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any


def sh(
    *argv: str, timeout: float = 120, check: bool = True, **kw: Any
) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=check, **kw)


def signal_tree(pid: int, sig: signal.Signals) -> None:
    """`sig` to `pid` and every process below it, each tree listed before it is signalled (listed
    twice: a child forked meanwhile). Below a `pulumi up` are the plugins, which run in process
    groups of their own."""
    for _ in range(2):
        table = sh("ps", "-e", "-o", "pid=,ppid=").stdout.split()
        children: dict[int, list[int]] = {}
        for child, parent in zip(table[::2], table[1::2], strict=True):
            children.setdefault(int(parent), []).append(int(child))
        todo, tree = [pid], []
        while todo:
            tree.append(todo.pop())
            todo += children.get(tree[-1], [])
        for each in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, sig)
