"""A release plan a reviewer can act on, from `pulumi preview --json --diff`.

    scripts/release-plan PREVIEW.json [--override] [--stack NAME] [--log PREVIEW.log]
                         [--config-before OLD.yaml --config-after NEW.yaml]

Prints Markdown (a PR comment, a job summary): the build that runs and the one that will, the
release chain's steps in order, containers by role, config keys changed, the dangers with why
they matter, and the raw diff collapsed below. Exit status: 0 fine; 1 a danger (unless
--override) or a failed preview (policy violations included: pass the failed preview's text
output with --log); 2 unreadable input.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.config import HOOK_POINTS
from components.core.chain import Phase
from components.engine import release as engine
from components.engine.release import HOOK_SLOTS, HOOK_WHEN, hook_prefix
from components.swarm import release as swarm

PROJECT = "laravel-stack"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "known after apply" string
CHANGED = {"create", "update", "delete", "replace", "create-replacement", "delete-replaced"}
REMOVED = {"delete", "replace", "create-replacement", "delete-replaced"}
#: each runtime's chain, in phases (components/engine/release.py, components/swarm/release.py)
RUNTIMES: dict[str, tuple[Phase[Any], ...]] = {"engine": engine.PHASES, "swarm": swarm.PHASES}
#: what a release-chain step is: a command under the component of one of those phases
COMMAND = "command:local:Command"
CONTAINER, SERVICE = "docker:index/container:Container", "docker:index/service:Service"
PHASE_OF = {p.component: p for phases in RUNTIMES.values() for p in phases if p.component}
DB_SECRETS = ("database.password", "database.root_password")
RAW_LIMIT = 20_000  # characters of raw diff; a PR comment holds 65,536
VALUE_LIMIT = 160


class PlanError(Exception):
    """The input is not a preview this script can read."""


@dataclass
class Step:
    op: str
    urn: str
    old: dict[str, Any]
    new: dict[str, Any]
    diff: dict[str, Any]
    reasons: list[str]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def type(self) -> str:
        return self.urn.split("::")[2].rsplit("$", 1)[-1]

    def inputs(self, which: str = "new") -> dict[str, Any]:
        state = self.new if which == "new" else self.old
        return state.get("inputs") or {}

    def label(self, key: str) -> str | None:
        for state in (self.new, self.old):
            for lab in (state.get("inputs") or {}).get("labels") or []:
                if isinstance(lab, dict) and lab.get("label") == key:
                    return str(lab.get("value"))
        return None

    @property
    def phase(self) -> Phase[Any] | None:
        """The chain phase this step is a command of (None: not a release-chain step)."""
        types = self.urn.split("::")[2].split("$")
        if len(types) < 2 or types[-1] != COMMAND:
            return None
        return PHASE_OF.get(types[-2])

    @property
    def role(self) -> str:
        return self.label("laravel-stack.role") or self.name


@dataclass
class Plan:
    stack: str
    steps: list[Step]
    config: dict[str, Any]
    failed: list[str]
    config_changes: list[tuple[str, str, str]] | None = None
    dangers: list[tuple[str, str]] = field(default_factory=list)

    def changed(self) -> list[Step]:
        return [s for s in self.steps if s.op in CHANGED]


# --- reading --------------------------------------------------------------------------------


def load_preview(text: str) -> tuple[list[Step], dict[str, Any], list[str]]:
    try:
        doc = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as err:
        raise PlanError(
            f"not JSON ({err}): pass the output of `pulumi preview --json --diff`"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps", []), list):
        raise PlanError("no `steps` list: pass the output of `pulumi preview --json --diff`")
    steps = [
        Step(
            op=s["op"],
            urn=s["urn"],
            old=s.get("oldState") or {},
            new=s.get("newState") or {},
            diff=s.get("detailedDiff") or {},
            reasons=s.get("replaceReasons") or s.get("diffReasons") or [],
        )
        for s in doc.get("steps", [])
    ]
    failed = [
        d["message"].strip()
        for d in doc.get("diagnostics") or []
        if d.get("severity") == "error" and d.get("message")
    ]
    if not steps and not failed:
        failed = ["the preview produced no steps (did `pulumi preview` fail before it started?)"]
    config = {}
    for key, value in (doc.get("config") or {}).items():
        if key.startswith(f"{PROJECT}:"):
            try:
                config[key.split(":", 1)[1]] = json.loads(value)
            except (TypeError, ValueError):
                config[key.split(":", 1)[1]] = value
    return steps, config, failed


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and set(value) == {"secure"}:
        yield prefix, value  # a secret: compared by ciphertext, never shown
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix, value


def stack_file_config(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise PlanError(f"{path}: {err}") from None
    config = doc.get("config") or {}
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = key.split(":", 1)[1] if key.startswith(f"{PROJECT}:") else key
        out.update(flatten(value, name))
    return out


def shown(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "[secret]"
    if value is None:
        return "(unset)"
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def config_changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, str]]:
    keys = sorted(set(before) | set(after))
    return [
        (k, shown(before.get(k)), shown(after.get(k)))
        for k in keys
        if before.get(k) != after.get(k)
    ]


# --- judging --------------------------------------------------------------------------------


def published(step: Step, which: str) -> list[str]:
    ports = step.inputs(which).get("ports") or []
    if not isinstance(ports, list):
        return [str(ports)]
    return [f"{p.get('ip') or '0.0.0.0'}:{p.get('external')}" for p in ports if isinstance(p, dict)]


#: stacks whose data may be thrown away (as the policy pack's `local_stacks` default)
LOCAL_STACKS = ("local",)


def flag(value: Any, default: bool) -> bool:
    """A boolean config value as the stack file holds it (true/false, or their text)."""
    if value is None:
        return default
    return str(value).lower() == "true" if isinstance(value, str) else bool(value)


def backup_line(plan: Plan, backup: bool) -> str:
    release = plan.config.get("release") or {}
    if backup:
        keep = release.get("keep_backups", 5)
        return (f"**Backup:** the database is dumped before `migrate` (the last {keep} kept; "
                "docs/operations/backups.md).")  # fmt: skip
    return "**No backup** before `migrate` (`release.backup` is off)."


def dangers(plan: Plan) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    release = plan.config.get("release") or {}
    migrate = flag(release.get("migrate"), True)
    if migrate and not flag(release.get("backup"), migrate) and plan.stack not in LOCAL_STACKS:
        out.append(
            (
                f"release.backup is off in stack `{plan.stack}`: migrations run without a backup",
                "a migration that drops or rewrites data cannot be undone: a rollback by digest "
                "brings back the code, not the rows",
            )
        )
    for s in plan.changed():
        gone = s.op in REMOVED
        verb = "deleted" if s.op in ("delete", "delete-replaced") else "replaced"
        where = f"`{s.name}`"
        if s.type == "docker:index/container:Container" and s.role == "mysql" and gone:
            out.append(
                (
                    f"the database container {where} is {verb}",
                    "the database is down while it is recreated: requests and queue jobs that "
                    "need it fail meanwhile",
                )
            )
        if s.type == "docker:index/volume:Volume" and gone:
            why = {
                "db-data": "the containers get a new, empty database volume: the data stays "
                "only in the old volume (if retained) and the app starts against an empty "
                "database",
                "storage": "uploads in storage/app live there: the app starts with none",
                "public": "the front proxy serves the public volume: assets are missing until "
                "public-init fills the new one",
                "tls": "the TLS edge keeps its certificates and ACME account there: it requests "
                "new certificates at once (ACME rate limits: Let's Encrypt issues at most 5 "
                "certificates for the same names a week)",
            }.get(s.name, "data on it is not carried over")
            out.append((f"the {s.name} volume {where} is {verb}", why))
        if s.type == "docker:index/network:Network" and gone:
            out.append(
                (
                    f"the network {where} is {verb}",
                    "every container on it is detached and recreated: the site is down meanwhile",
                )
            )
        if s.old.get("protect"):
            out.append(
                (
                    f"the protected resource {where} ({s.type}) is {s.op}d",
                    "it is protected because losing it loses data: `pulumi up` refuses until "
                    "someone removes the protection on purpose",
                )
            )
        if (
            s.type == "docker:index/container:Container"
            and any(k == "ports" or k.startswith(("ports[", "ports.")) for k in s.diff)
            and published(s, "old") != published(s, "new")
        ):
            out.append(
                (
                    f"the published address changes: {', '.join(published(s, 'old')) or 'none'}"
                    f" → {', '.join(published(s, 'new')) or 'none'}",
                    "DNS, firewalls and load balancers that point at the old address stop "
                    "reaching the site",
                )
            )
    for key, _, _ in plan.config_changes or []:
        if key in DB_SECRETS:
            out.append(
                (
                    f"the database secret `{key}` changes",
                    "MySQL sets passwords only when its data volume is first initialised: the "
                    "app would connect with the new one while the database keeps the old one "
                    "(change it in MySQL with ALTER USER in the same release)",
                )
            )
    skip = (plan.config.get("release") or {}).get("skip") or []
    if skip:
        out.append(
            (
                f"release.skip leaves out {', '.join(f'`{s}`' for s in skip)}",
                "each skipped step is a guarantee given up (stale caches or OPcache, unchecked "
                "health): the release can report success while serving the old code",
            )
        )
    return out


# --- rendering ------------------------------------------------------------------------------


def short(digest: str) -> str:
    m = re.search(r"sha256:([0-9a-f]{12})[0-9a-f]{52}", digest or "")
    return f"sha256:{m.group(1)}…" if m else (digest or "?")


def running_build(plan: Plan) -> str | None:
    """The running repo digest, from whichever changed resource recorded it (the preview
    leaves unchanged resources out): the image, a container's build label, a chain trigger."""
    for s in plan.changed():
        candidates = [
            (s.old.get("outputs") or {}).get("repoDigest"),
            *[
                lab.get("value")
                for lab in s.inputs("old").get("labels") or []
                if isinstance(lab, dict) and lab.get("label") == "laravel-stack.build"
            ],
            *(s.inputs("old").get("triggers") or [])[:1],
        ]
        for c in candidates:
            if isinstance(c, str) and re.search(r"@sha256:[0-9a-f]{64}$", c):
                return c
    return None


def build_line(plan: Plan) -> str:
    image = plan.config.get("image") or {}
    repo, tag = image.get("repository", "?"), image.get("tag", "?")
    step = next(
        (s for s in plan.steps if s.type == "docker:index/image:Image" and s.name == "app"), None
    )
    running = running_build(plan)
    now = f"`{short(running)}`" if running else "the running build"
    if step is None or step.op not in ("create", "update", "replace"):
        return f"**Build:** no new build: `{repo}` stays at {now}."
    old_tag = (step.inputs("old").get("imageName") or "").rpartition(":")[2]
    context = ((step.inputs().get("build") or {}).get("contextDigest") or "")[:12]
    new = f"a **new build** of tag `{tag}` (context `{context}…`; its digest is known once pushed)"
    if not running:
        return f"**Build:** `{repo}`: first build: {new}."
    return f"**Build:** `{repo}`: {now} (tag `{old_tag}`) → {new}."


def cut(value: Any) -> str:
    if value == UNKNOWN:
        return "(known after the release)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = text.replace("\n", "⏎").replace(UNKNOWN, "(known after the release)")
    # Digests and ids shortened before the cut, never cut in half.
    text = re.sub(r"\b([0-9a-f]{12})[0-9a-f]{52}\b", r"\1…", text)
    return text if len(text) <= VALUE_LIMIT else text[:VALUE_LIMIT] + f"… ({len(text)} chars)"


def lookup(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in re.findall(r"[^.\[\]]+", path):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def raw_diff(plan: Plan) -> str:
    lines: list[str] = []
    for s in plan.changed():
        why = f"  ({', '.join(sorted(s.reasons))})" if s.reasons else ""
        lines.append(f"@@ {s.op} {s.type} {s.name}{why}")
        for path in sorted(s.diff):
            old, new = lookup(s.inputs("old"), path), lookup(s.inputs(), path)
            if s.op not in ("create",):
                lines.append(f"- {path}: {cut(old)}")
            if s.op not in ("delete", "delete-replaced"):
                lines.append(f"+ {path}: {cut(new)}")
    text = "\n".join(lines)
    if len(text) > RAW_LIMIT:
        kept = text[:RAW_LIMIT].rsplit("\n", 1)[0]
        text = kept + f"\n… cut: {text.count(chr(10)) - kept.count(chr(10))} more lines"
    return text


def hook_point(name: str) -> str | None:
    for point in HOOK_POINTS:
        if name.startswith(hook_prefix(point)):
            return point
    return None


def hook_argv(step: Step) -> str:
    """The hook's own argv, out of its step's command (unknown in a preview: "")."""
    create = step.inputs().get("create")
    if not isinstance(create, str) or create == UNKNOWN:
        return ""
    line = shlex.split(create)
    if line and line[0] == "ssh":
        line = shlex.split(line[-1])
    php = next((i for i, w in enumerate(line) if w.endswith("/hook.php")), None)
    if php is None or "--" not in line[php:]:
        return ""
    return shlex.join(line[line.index("--", php) + 1 :])


def chain_order(chain: list[Step]) -> list[tuple[str, str]]:
    """(name, what it does) of each step that runs, in the chain's order (not the preview's):
    the runtime's phases in order, the built-in steps as its table lists them, each hook at its
    point (hooks in the preview's order), and what Swarm does itself between two phases when
    the phase after it runs."""
    if any(s.phase and s.phase.component in {p.component for p in swarm.PHASES} for s in chain):
        return phases_order(swarm.PHASES, chain)
    ran = {s.name for s in chain}
    hooks = [s for s in chain if hook_point(s.name)]
    out: list[tuple[str, str]] = []
    for i, st in enumerate((*engine.STEPS, None)):
        for h in hooks:
            point = hook_point(h.name)
            if point and HOOK_SLOTS[point] == i:
                argv = hook_argv(h)
                what = f"your hook{f' `{argv}`' if argv else ''} ({HOOK_WHEN[point]})"
                out.append((h.name, what))
        if st is not None and st.name in ran:
            out.append((st.name, st.description))
    return out


def phases_order(phases: tuple[Phase[Any], ...], chain: list[Step]) -> list[tuple[str, str]]:
    ran = {(s.phase.component, s.name) for s in chain if s.phase}
    out: list[tuple[str, str]] = []
    between: list[Phase[Any]] = []  # the rollouts before the next phase of steps
    for phase in phases:
        if not phase.steps:
            between.append(phase)
            continue
        steps = [(st.name, st.description) for st in phase.steps
                 if (phase.component, st.name) in ran]  # fmt: skip
        if steps:
            out += [(p.name, p.description) for p in between]
        between = []
        out += steps
    return out


def render(plan: Plan, override: bool, log: str | None = None) -> str:
    out = [f"## Release plan: `{plan.stack}`", ""]
    if plan.failed:
        out += ["**⛔ The preview failed**: nothing can be released until it passes.", ""]
        out += [f"- {line}" for msg in plan.failed for line in msg.splitlines()[:5]]
        if log:
            policies = re.search(r"^Policies:\n(.*?)(?=^\S|\Z)", log, re.M | re.S)
            text = (policies.group(1) if policies else log)[-RAW_LIMIT:]
            out += ["", "```", text.rstrip(), "```"]
        return "\n".join(out) + "\n"
    out += [build_line(plan), ""]
    changed = plan.changed()
    if not changed:
        return "\n".join([*out, "**Nothing to release**: the preview changes nothing.", ""])

    chain = [s for s in changed if s.phase and s.op in ("create", "replace")]
    if chain:
        ran = {s.name for s in chain}
        listed = chain_order(chain)
        out.append(f"**The release chain runs** ({len(listed)} steps, in this order):")
        out += [f"{i}. `{name}`: {what}" for i, (name, what) in enumerate(listed, 1)]
        if "migrate" in ran and not any(s.phase in swarm.PHASES for s in chain):
            out += ["", backup_line(plan, "backup" in ran)]
        if "maintenance-down" in ran:
            out += [
                "",
                "**Maintenance:** the site answers the app's 503 page (with Retry-After) from "
                "before `migrate` until `verify` has passed; a failure ends it on the old build.",
            ]
    else:
        out.append("**The release chain does not run** (no new build, no new app container).")
    if any(s.name == "notify-config" and s.phase for s in changed):
        out += ["", "**Notifications:** the webhooks of `release.notify` are written to the "
                "deploy engine (their URLs are secrets: not shown here)."]  # fmt: skip
    out.append("")

    containers = [s for s in changed if s.type in (CONTAINER, SERVICE)]
    if containers:
        # Why each one changes is in the raw diff below: which inputs a provider reports
        # (a set element, the whole list) is its own business, the operation is the plan's.
        out += ["| container | role | change |", "|---|---|---|"]
        for s in sorted(containers, key=lambda s: (s.role, s.name)):
            out.append(f"| `{s.name}` | {s.role} | {s.op} |")
        out.append("")
    others = [s for s in changed if s not in containers and not s.phase]
    if others:
        out.append(
            "**Other resources:** "
            + ", ".join(f"`{s.name}` ({s.type.split(':')[-1]}) {s.op}" for s in others)
        )
        out.append("")

    if plan.config_changes is None:
        out += ["**Config:** not compared (no --config-before/--config-after given).", ""]
    elif plan.config_changes:
        out.append("**Config changed:**")
        out += [f"- `{k}`: {a} → {b}" for k, a, b in plan.config_changes]
        out.append("")

    if plan.dangers:
        out.append(f"### ⛔ Dangers ({len(plan.dangers)})")
        out += [f"- **{what}**: {why}." for what, why in plan.dangers]
        out.append("")
        out.append(
            "Overridden by the `release-override` label: deploy knowing the above."
            if override
            else "This check fails until the plan changes or a reviewer adds the "
            "`release-override` label."
        )
        out.append("")
    else:
        out += ["No dangers found.", ""]

    out += [
        f"<details><summary>Raw diff ({len(changed)} resources)</summary>",
        "",
        "```diff",
        raw_diff(plan),
        "```",
        "</details>",
    ]
    return "\n".join(out) + "\n"


def make_plan(
    text: str, stack: str | None, before: Path | None = None, after: Path | None = None
) -> Plan:
    steps, config, failed = load_preview(text)
    if stack is None:
        urns = [s.urn for s in steps]
        stack = urns[0].split("::", 1)[0].split(":", 2)[2] if urns else "?"
    plan = Plan(stack=stack, steps=steps, config=config, failed=failed)
    if before is not None and after is not None:
        plan.config_changes = config_changes(stack_file_config(before), stack_file_config(after))
    plan.dangers = dangers(plan)
    return plan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="release-plan", description=__doc__.split("\n\n")[0])
    ap.add_argument("preview", type=Path, help="output of `pulumi preview --json --diff`")
    ap.add_argument("--override", action="store_true", help="a danger does not fail the check")
    ap.add_argument("--stack", help="stack name to show (default: from the URNs)")
    ap.add_argument("--log", type=Path, help="text output of the preview, when it failed")
    ap.add_argument("--config-before", type=Path, help="Pulumi.<stack>.yaml of the base branch")
    ap.add_argument("--config-after", type=Path, help="Pulumi.<stack>.yaml of the change")
    args = ap.parse_args(argv)
    if (args.config_before is None) != (args.config_after is None):
        ap.error("--config-before and --config-after go together")
    try:
        plan = make_plan(
            args.preview.read_text(), args.stack, args.config_before, args.config_after
        )
        log = args.log.read_text(errors="replace") if args.log else None
    except (OSError, PlanError, KeyError, TypeError) as err:
        print(f"release-plan: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(render(plan, args.override, log))
    if plan.failed:
        return 1
    return 1 if plan.dangers and not args.override else 0


if __name__ == "__main__":
    sys.exit(main())
