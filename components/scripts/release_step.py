"""One step of the release chain, run where `pulumi up` runs (python3, standard library only).

    python3 components/scripts/release_step.py CONTEXT -- LINE

is each release step's `interpreter` (LINE is the step's command). It runs LINE (`sh -c`), its
output passed through unchanged. When LINE fails, or when it succeeds
and the step is the chain's last, the release's outcome is recorded in the deploy engine's
history (releases.sh `event`, which answers with the webhooks of release.notify) and posted
to each webhook. Neither can change the step's result: each is bounded (the record by
RECORD_TIMEOUT, every post by the stack's notify timeout, all posts at once), reports on
stderr in one line what happened (never a URL), and the exit status is always LINE's.

CONTEXT is one JSON object: stack, step, build, previous (past the switch: the build switched
from), final, receipt and tag (the chain's last step: the release's receipt and tag) and record
(the argv that runs releases.sh `event` on the deploy engine, and the project script it reads).
"""

from __future__ import annotations

import collections
import datetime
import getpass
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

#: the lines of a failed step's output an event carries
LAST_LINES = 20
RECORD_TIMEOUT = 60
SCHEMA = "laravel-stack.release/1"


#: a PHP stack trace's own lines, as Laravel logs them (LOG_CHANNEL=stderr): `#12 /path(34): …`,
#: `#25 {main}`, `[stacktrace]` and the `"}` that closes the log line's context
TRACE_LINE = re.compile(
    r'^(#\d+ (\S.*\(\d+\): |\{main\}|\[internal function\])|\[stacktrace\]$|"\}\s*$)'
)


def kept(line: str) -> bool:
    """Whether a line of the step's output goes into an event's last lines. A stack trace's
    frames don't: logged on stderr while the cause goes to stdout, the two pipes interleave as
    the threads reading them run, and 20 frames would push the cause out of the last lines."""
    return not TRACE_LINE.match(line)


def run(line: str, tail: collections.deque[str]) -> int:
    """LINE with stdout and stderr passed through as they come, the last lines but a stack
    trace's frames kept."""
    proc = subprocess.Popen(["/bin/sh", "-c", line], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def pump(src: Any, dst: Any) -> None:
        for raw in iter(src.readline, b""):
            dst.buffer.write(raw)
            dst.flush()
            text = raw.decode(errors="replace").rstrip("\n")
            if kept(text):
                tail.append(text)

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, sys.stdout)),
        threading.Thread(target=pump, args=(proc.stderr, sys.stderr)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return proc.wait()


def deployed_by(env: dict[str, str]) -> str:
    """Who or what ran the release: the workflow run in CI, user@host elsewhere."""
    if env.get("LARAVEL_STACK_DEPLOYED_BY"):
        return env["LARAVEL_STACK_DEPLOYED_BY"]
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/{env['GITHUB_RUN_ID']}"
    return f"{getpass.getuser()}@{socket.gethostname()}"


def etime_seconds(text: str) -> int:
    """`ps -o etime` ([[dd-]hh:]mm:ss) in seconds."""
    days, _, rest = text.strip().rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return int(days or 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


def up_seconds() -> int | None:
    """How long the `pulumi` process that runs this step has been running (the release's
    duration so far: the program, the build and push, the chain), found among the ancestors."""
    pid = os.getppid()
    for _ in range(12):
        try:
            out = subprocess.run(
                ["ps", "-o", "ppid=", "-o", "etime=", "-o", "comm=", "-p", str(pid)],
                capture_output=True, text=True, timeout=5, check=True,
            ).stdout.split()  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        if len(out) < 3:
            return None
        if os.path.basename(out[2]) == "pulumi":
            return etime_seconds(out[1])
        pid = int(out[0])
        if pid <= 1:
            return None
    return None


def event(ctx: dict[str, Any], ok: bool, tail: list[str], env: dict[str, str]) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    duration = up_seconds()
    started = now - datetime.timedelta(seconds=duration) if duration is not None else None
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "stack": ctx["stack"],
        "outcome": "succeeded" if ok else "failed",
        "build": ctx["build"],
        "digest": ctx["build"].rpartition("@")[2],
        "tag": ctx.get("tag", ""),
        "commit": env.get("LARAVEL_STACK_GIT_COMMIT") or env.get("GITHUB_SHA", ""),
        "by": deployed_by(env),
        "started": started.isoformat().replace("+00:00", "Z") if started else "",
        "finished": now.isoformat().replace("+00:00", "Z"),
        "duration_s": duration,
        "receipt": ctx.get("receipt", "") if ok else "",
        "failed_step": "" if ok else ctx["step"],
        "last_lines": [] if ok else tail[-LAST_LINES:],
    }
    if "previous" in ctx:
        out["previous"] = ctx["previous"]
    return out


def record(ctx: dict[str, Any], ev: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event as the engine recorded it (with the build served before) and the webhooks."""
    rec = ctx["record"]
    argv = list(rec["argv"])
    line = json.dumps(ev, separators=(", ", ": "))
    # The event is releases.sh's last argument (its stdin is the script itself, `sh -s`); over
    # ssh the last argv element is the server's command line.
    if rec["ssh"]:
        argv[-1] += " " + shlex.quote(line)
    else:
        argv.append(line)
    with open(rec["script"], "rb") as script:
        proc = subprocess.run(
            argv, stdin=script, capture_output=True, timeout=RECORD_TIMEOUT, check=False
        )
    if proc.returncode != 0:
        why = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"exit code {proc.returncode}: {why[0]}")
    lines = proc.stdout.decode().splitlines()
    recorded = json.loads(lines[0]) if lines else ev
    notify = json.loads("\n".join(lines[1:]) or "{}")
    return recorded, notify


def short(build: str) -> str:
    repo, _, digest = build.rpartition("@")
    return f"{repo}@{digest[:19]}…" if digest else build


def slack(ev: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message: one line of outcome, the details below it."""
    took = f" in {ev['duration_s']} s" if ev.get("duration_s") is not None else ""
    tag = f" ({ev['tag']})" if ev.get("tag") else ""
    head = f"*{ev['stack']}*: {short(ev['build'])}{tag}"
    if ev["outcome"] == "succeeded":
        text = f":white_check_mark: {head} released{took} by {ev['by']}"
        details = [ev.get("receipt", "")]
    else:
        text = f":x: {head} failed at `{ev['failed_step']}`{took} ({ev['by']})"
        served = ev.get("previous") or "no build"
        details = [f"serving: {short(served)}", "```" + "\n".join(ev["last_lines"][-10:]) + "```"]
    if ev.get("previous") and ev["outcome"] == "succeeded":
        details.append(f"previous: {short(ev['previous'])}")
    if ev.get("commit"):
        details.append(f"commit: {ev['commit']}")
    return {"text": "\n".join([text, *filter(None, details)])}


def post(hooks: list[dict[str, str]], ev: dict[str, Any], timeout: float) -> list[str]:
    """Post to every webhook at once, all within `timeout`; one report line each (no URL)."""
    reports = [f"notify: webhook {i + 1} ({h.get('format', 'json')}): no answer within "
               f"{timeout:g} s" for i, h in enumerate(hooks)]  # fmt: skip

    def one(i: int, hook: dict[str, str]) -> None:
        fmt = hook.get("format", "json")
        body = json.dumps(slack(ev) if fmt == "slack" else ev).encode()
        req = urllib.request.Request(
            hook["url"], data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                reports[i] = f"notify: webhook {i + 1} ({fmt}): HTTP {resp.status}"
        except urllib.error.HTTPError as e:
            reports[i] = f"notify: webhook {i + 1} ({fmt}): failed: HTTP {e.code}"
        except TimeoutError:
            pass  # the report already says so
        except Exception as e:
            # Never str(e) of a URL error: it may name the URL, which is the secret.
            reason = getattr(e, "reason", e)
            if isinstance(reason, TimeoutError):
                return  # the report already says so
            kind = type(reason).__name__ if not isinstance(reason, str) else reason
            reports[i] = f"notify: webhook {i + 1} ({fmt}): failed: {kind}"

    threads = [threading.Thread(target=one, args=(i, h), daemon=True) for i, h in enumerate(hooks)]
    deadline = time.monotonic() + timeout + 1
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return reports


def report(ctx: dict[str, Any], ok: bool, tail: list[str]) -> None:
    env = dict(os.environ)
    ev = event(ctx, ok, tail, env)
    try:
        ev, notify = record(ctx, ev)
        print(f"release: {ev['outcome']} recorded in the deploy engine's history", file=sys.stderr)
    except Exception as e:
        print(f"release: the outcome could not be recorded on the deploy engine: {e}",
              file=sys.stderr)  # fmt: skip
        notify = {}
    if ok:
        # The history output (commands.history) takes the newest release from here: the
        # retention step that prints the rest ran before it was recorded.
        print("event: " + json.dumps(ev, separators=(", ", ": ")))
    hooks = notify.get("webhooks") or []
    for line in post(hooks, ev, float(notify.get("timeout", 10))) if hooks else []:
        print(line, file=sys.stderr)


def ssh_lost(line: str, code: int, tail: list[str], step: str) -> str | None:
    """One line for a step whose ssh lost the server (exit status 255 is ssh's own: the remote
    command's status is passed through), naming the server and the cause."""
    try:
        argv = shlex.split(line)
    except ValueError:
        return None
    if code != 255 or not argv or argv[0] != "ssh" or "--" not in argv[:-1]:
        return None
    host = argv[argv.index("--") + 1]
    user = argv[argv.index("-l") + 1] if "-l" in argv[:-1] else ""
    said = [x.strip() for x in tail if x.strip().startswith(("ssh:", "mux_client", "Connection "))]
    cause = said[-1] if said else "the connection was dropped"
    return (
        f"laravel-stack: the SSH connection to {user + '@' if user else ''}{host} failed during "
        f"{step} ({cause}); nothing to clean up: once the server answers, run `pulumi up` again"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[2] != "--":
        print("usage: release_step.py CONTEXT -- LINE", file=sys.stderr)
        return 2
    ctx = json.loads(argv[1])
    tail: collections.deque[str] = collections.deque(maxlen=LAST_LINES)
    code = run(argv[3], tail)
    lost = ssh_lost(argv[3], code, list(tail), ctx.get("step", ""))
    if lost:
        print(lost, file=sys.stderr)
    if code != 0 or ctx.get("final"):
        try:
            report(ctx, code == 0, list(tail))
        except Exception as e:
            print(f"release: no report: {type(e).__name__}: {e}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
