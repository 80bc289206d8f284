"""The local suite's stack (test_local_stack.py, the `pulumi` fixture): the helpers' defaults."""

from __future__ import annotations

STACK = "e2e"
NAME = "lse2e"  # container/volume prefix, distinct from the local stack's
PORT = 18080
LOCAL_BASE = f"http://127.0.0.1:{PORT}"
