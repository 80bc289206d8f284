"""HTTP against a stack's site, and bounded polling."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from .local import LOCAL_BASE


def http(path: str, timeout: float = 5, base: str = LOCAL_BASE) -> tuple[int, Any]:
    url = f"{base}{path}"
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as err:
        body, status = err.read().decode(), err.code
    try:
        return status, json.loads(body)
    except json.JSONDecodeError:
        return status, body


def wait_for(predicate, timeout: float, interval: float = 1.0, what: str = "condition"):
    """Poll `predicate` (bounded by `timeout` seconds); return its first truthy value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (OSError, urllib.error.URLError) as err:
            last = err
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
