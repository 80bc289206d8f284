#!/usr/bin/env python3
"""The no-op `pulumi preview` of a deployed stack vs the same of an empty Pulumi Python program,
on this machine with the same CLI, language host and venv: what the program and its plugins add
to every preview (a PR's, and the plan of every `up`).

Run after `scripts/up-local` (the local stack deployed; its state in ./.state):

    . /var/cache/laravel-stack/toolchain/env.sh && venv/bin/python bench/preview.py [--runs 7]

Prints the median and the spread of each, and their ratio. A script that prints figures; no test
asserts timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

EMPTY_MAIN = "import pulumi\n\npulumi.export('empty', True)\n"


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.monotonic()
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, timeout=300)
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--stack", default="local")
    args = ap.parse_args()
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": os.environ.get("PULUMI_BACKEND_URL", f"file://{REPO / '.state'}"),
        "PULUMI_CONFIG_PASSPHRASE": os.environ.get(
            "PULUMI_CONFIG_PASSPHRASE", "laravel-stack-local"
        ),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    preview = ["pulumi", "preview", "--non-interactive", "--expect-no-changes", "--stack"]
    with tempfile.TemporaryDirectory(prefix="lspreview-") as tmp:
        empty = Path(tmp) / "empty"
        empty.mkdir()
        (empty / "Pulumi.yaml").write_text(
            f"name: empty\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO / 'venv'}\n"
        )
        (empty / "__main__.py").write_text(EMPTY_MAIN)
        eenv = {**env, "PULUMI_BACKEND_URL": f"file://{tmp}/state"}
        Path(tmp, "state").mkdir()
        subprocess.run(["pulumi", "stack", "init", "bench", "--non-interactive"], cwd=empty,
                       env=eenv, check=True, capture_output=True)  # fmt: skip
        subprocess.run(["pulumi", "up", "--yes", "--non-interactive", "--stack", "bench"],
                       cwd=empty, env=eenv, check=True, capture_output=True)  # fmt: skip
        ours, base = [], []
        for _ in range(args.runs):  # interleaved: both see the same machine load
            ours.append(timed([*preview, args.stack], REPO, env))
            base.append(timed([*preview, "bench"], empty, eenv))
    for name, xs in ((f"laravel-stack ({args.stack})", ours), ("empty program", base)):
        print(f"{name:28} median {statistics.median(xs):.2f} s  (min {min(xs):.2f}, "
              f"max {max(xs):.2f}, {len(xs)} runs)")  # fmt: skip
    print(f"ratio: {statistics.median(ours) / statistics.median(base):.2f}x")


if __name__ == "__main__":
    main()
