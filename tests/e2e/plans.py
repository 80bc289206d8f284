"""Release plans of real previews, compared with golden Markdown (tests/e2e/golden/*.md).

`scripts/release-plan` runs as the workflow runs it, on the JSON `pulumi preview --json --diff`
wrote and on the stack's config file before and after the change. What differs from run to run
(digests, ids, random name suffixes, the project directory) is masked, as for the conformance
vectors. LARAVEL_STACK_RECORD_GOLDEN=1 rewrites the golden files instead of comparing: review
their diff like code.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from .conformance import mask
from .support.pulumi import REPO, Pulumi

GOLDEN = Path(__file__).parent / "golden"
RECORD = os.environ.get("LARAVEL_STACK_RECORD_GOLDEN") == "1"


def config_file(pulumi: Pulumi) -> Path:
    return pulumi.project / f"Pulumi.{pulumi.stack}.yaml"


def check_plan(
    pulumi: Pulumi,
    case: str,
    preview: dict[str, Any],
    config_before: str,
    expect_exit: int,
    *extra: str,
) -> str:
    work = pulumi.project.parent
    preview_file = work / f"{case}.preview.json"
    preview_file.write_text(json.dumps(preview))
    before = work / f"{case}.before.yaml"
    before.write_text(config_before)
    after = work / f"{case}.after.yaml"
    after.write_text(config_file(pulumi).read_text())
    res = subprocess.run(
        [str(REPO / "scripts/release-plan"), str(preview_file), "--stack", pulumi.stack,
         "--config-before", str(before), "--config-after", str(after), *extra],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == expect_exit, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    # The golden part is the plan: build, chain, containers and resources by operation, config,
    # dangers. Below it, the raw diff renders each provider's own detailed diff: only checked
    # to name every changed resource.
    plan, _, raw = res.stdout.partition("<details>")
    headers = {tuple(line.split()[1:4]) for line in raw.splitlines() if line.startswith("@@ ")}
    for step in preview["steps"]:
        if step["op"] != "same":
            op, (type_, name) = step["op"], step["urn"].split("::")[2:4]
            header = (op, type_.rsplit("$", 1)[-1], name)
            assert header in headers, f"{header} is not in the raw diff:\n{raw}"
    rendered = mask(plan, str(pulumi.project))
    golden = GOLDEN / f"{case}.md"
    if RECORD:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(rendered)
    assert golden.exists(), f"{golden} is missing: record it with LARAVEL_STACK_RECORD_GOLDEN=1"
    expected = golden.read_text()
    assert rendered == expected, (
        f"release plan `{case}` differs from {golden.name}:\n--- rendered\n{rendered}"
    )
    return res.stdout
