"""The e2e's `pulumi` commands summed per stack and command (scripts/test prints it): how many,
their wall seconds and the CPU seconds of their process trees. Where the suite's time goes, to
decide what to cut (README "Test it").

    python scripts/pulumi_timings.py LOG    LOG: the JSON lines of LARAVEL_STACK_TIMINGS_LOG
"""

import json
import sys
from collections import defaultdict


def main(path: str) -> None:
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    with open(path) as log:
        for line in log:
            rec = json.loads(line)
            for key in ((rec["stack"], rec["command"]), ("all", rec["command"]), ("all", "*")):
                entry = sums[key]
                entry[0] += 1
                entry[1] += rec["wall_s"]
                entry[2] += rec["cpu_s"]
    print(f"{'stack':14} {'command':8} {'runs':>5} {'wall s':>8} {'cpu s':>8}")
    for (stack, command), (runs, wall, cpu) in sorted(
        sums.items(), key=lambda kv: (kv[0][0] == "all", kv[0])
    ):
        print(f"{stack:14} {command:8} {runs:5d} {wall:8.1f} {cpu:8.1f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
