"""scripts/release-plan on previews built here: what it shows, what it calls a danger, its exit."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from components.engine.release import STEPS
from tools import release_plan as rp

STACK = "prod"
ROOT = f"urn:pulumi:{STACK}::laravel-stack::laravel-stack:index:LaravelStack"
DIGEST = "registry.example.com/acme/shop@sha256:" + "ab" * 32
CONFIG = {
    "laravel-stack:image": json.dumps(
        {"repository": "registry.example.com/acme/shop", "tag": "v2"}
    ),
    "laravel-stack:release": json.dumps({"migrate": True}),
}


def step(
    op: str,
    type_: str,
    name: str,
    parent: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    diff: list[str] = (),  # type: ignore[assignment]
    protect: bool = False,
    outputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "op": op,
        "urn": f"{ROOT}${parent}${type_}::{name}",
        "oldState": {"inputs": old or {}, "outputs": outputs or {}, "protect": protect},
        "newState": {"inputs": new or {}},
        "detailedDiff": {k: {"kind": "update-replace"} for k in diff},
        "replaceReasons": list(diff),
    }


def container(op: str, role: str, name: str, **kw: Any) -> dict[str, Any]:
    labels = [{"label": "laravel-stack.role", "value": role}]
    kw.setdefault("old", {})
    kw.setdefault("new", {})
    kw["old"] = {
        "labels": [*labels, {"label": "laravel-stack.build", "value": DIGEST}],
        **kw["old"],
    }
    kw["new"] = {"labels": labels, **kw["new"]}
    return step(op, "docker:index/container:Container", name, "laravel-stack:index:X", **kw)


def chain(names: list[str]) -> list[dict[str, Any]]:
    return [
        step(
            "replace",
            "command:local:Command",
            n,
            "laravel-stack:index:ReleaseChain",
            old={"triggers": [DIGEST]},
            new={"triggers": [rp.UNKNOWN]},
            diff=["triggers"],
        )
        for n in names
    ]


def code_change() -> list[dict[str, Any]]:
    image = step(
        "update",
        "docker:index/image:Image",
        "app",
        "laravel-stack:index:AppImage",
        old={
            "imageName": "registry.example.com/acme/shop:v1",
            "build": {"contextDigest": "1" * 64},
        },
        new={
            "imageName": "registry.example.com/acme/shop:v2",
            "build": {"contextDigest": "2" * 64},
        },
        diff=["build"],
        outputs={"repoDigest": DIGEST},
    )
    return [image, container("replace", "app", "shop-app", diff=["image"]), *chain(rp_names())]


def rp_names() -> list[str]:
    return [s.name for s in STEPS]


def preview(steps: list[dict[str, Any]], config: dict[str, str] = CONFIG, **extra: Any) -> str:
    return json.dumps({"config": config, "steps": steps, **extra})


def run(tmp_path: Path, text: str, *args: str) -> tuple[int, str]:
    f = tmp_path / "preview.json"
    f.write_text(text)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = rp.main([str(f), *args])
    return code, out.getvalue()


def test_nothing_to_release(tmp_path):
    code, md = run(tmp_path, preview([{"op": "same", "urn": f"{ROOT}::x"}]))
    assert code == 0
    assert "**Nothing to release**" in md
    assert "no new build" in md


def test_code_change_lists_the_build_and_the_chain_in_order(tmp_path):
    steps = code_change()
    random.Random(7).shuffle(steps)  # the preview's order is not the chain's
    code, md = run(tmp_path, preview(steps))
    assert code == 0
    assert "`sha256:abababababab…` (tag `v1`) → a **new build** of tag `v2`" in md
    listed = [line.split("`")[1] for line in md.splitlines() if line[:1].isdigit()]
    assert listed == rp_names()
    for s in STEPS:
        assert f"`{s.name}`: {s.description}" in md
    assert "| `shop-app` | app | replace |" in md
    assert "@@ replace docker:index/container:Container shop-app  (image)" in md
    assert "No dangers found." in md
    assert "**Backup:** the database is dumped before `migrate` (the last 5 kept" in md
    assert "**Maintenance:** the site answers the app's 503 page" in md  # rp_names() has it
    plain = [n for n in rp_names() if not n.startswith("maintenance-")]
    _, without = run(tmp_path, preview([*code_change()[:2], *chain(plain)]))
    assert "**Maintenance:**" not in without
    assert "<details><summary>Raw diff (17 resources)</summary>" in md
    # the chain's scripts stay in the collapsed raw diff, never in the step list
    assert md.index("<details>") < md.index("+ triggers: [")


def test_a_swarm_release_lists_its_phases_with_the_rollouts_in_between(tmp_path):
    """The Swarm chain (components/swarm/release.py's PHASES), rendered from its own table: the
    steps of each phase in order, and what Swarm does itself between two of them."""
    from components.swarm.release import PHASES

    steps = [code_change()[0]]
    for phase in PHASES:
        for st in phase.steps:
            steps += [step("replace", "command:local:Command", st.name, phase.component,
                           old={"triggers": [DIGEST]}, new={"triggers": [rp.UNKNOWN]},
                           diff=["triggers"])]  # fmt: skip
    service = "docker:index/service:Service"
    steps.append(step("update", service, "app", "laravel-stack:index:SwarmWeb",
                      old={"taskSpec": {}}, new={"taskSpec": {}}, diff=["taskSpec"]))  # fmt: skip
    random.Random(3).shuffle(steps)
    code, md = run(tmp_path, preview(steps))
    assert code == 0, md
    listed = [line.split("`")[1] for line in md.splitlines() if line[:1].isdigit()]
    assert listed == [
        "public-next", "contract", "migrate", "cache-clear", "canary", "app-rollout",
        "rollout-wait", "fleet-check", "switch", "workers-rollout", "workers-restart", "retention",
    ]  # fmt: skip
    assert "`app-rollout`: Swarm updates the app service one task at a time" in md
    assert "| `app` | app | update |" in md
    # the engine chain's step of the same name is not what a swarm `switch` does
    assert "`switch`: nginx serves the new build's public/" in md
    # without the rollout (the app service unchanged, only a new tag): no rollout listed
    tail = [s for s in steps if s["urn"].endswith(("::retention", "::workers-restart"))]
    _, md = run(tmp_path, preview(tail))
    listed = [line.split("`")[1] for line in md.splitlines() if line[:1].isdigit()]
    assert listed == ["workers-rollout", "workers-restart", "retention"]


def test_skipped_steps_are_not_listed_and_release_skip_is_a_danger(tmp_path):
    names = [n for n in rp_names() if n != "opcache-reset"]
    config = {**CONFIG, "laravel-stack:release": json.dumps({"skip": ["opcache-reset"]})}
    code, md = run(tmp_path, preview(chain(names), config))
    assert "`opcache-reset`:" not in md
    assert "release.skip leaves out `opcache-reset`" in md
    assert code == 1


@pytest.mark.parametrize("stack, danger", [("prod", True), ("local", False)])
def test_backup_off_is_shown_and_a_danger_outside_the_local_stacks(tmp_path, stack, danger):
    names = [n for n in rp_names() if n != "backup"]
    config = {**CONFIG, "laravel-stack:release": json.dumps({"backup": False})}
    code, md = run(tmp_path, preview(chain(names), config), "--stack", stack)
    assert "**No backup** before `migrate` (`release.backup` is off)." in md
    said = f"release.backup is off in stack `{stack}`: migrations run without a backup"
    assert (said in md) is danger and code == (1 if danger else 0), md
    # No migrations, no backup needed: neither shown nor a danger.
    off = {**CONFIG, "laravel-stack:release": json.dumps({"migrate": "false", "backup": False})}
    code, md = run(tmp_path, preview(chain([n for n in names if n != "migrate"]), off))
    assert code == 0 and "backup" not in md.split("<details>")[0].lower()


@pytest.mark.parametrize(
    "steps, danger",
    [
        ([container("replace", "mysql", "mysql", diff=["volumes"])], "database container"),
        ([container("delete", "mysql", "mysql")], "database container `mysql` is deleted"),
        (
            [step("replace", "docker:index/volume:Volume", "db-data", "laravel-stack:index:N")],
            "the db-data volume",
        ),
        (
            [step("delete", "docker:index/volume:Volume", "storage", "laravel-stack:index:N")],
            "the storage volume `storage` is deleted",
        ),
        (
            [step("replace", "docker:index/volume:Volume", "public", "laravel-stack:index:N")],
            "the public volume",
        ),
        (
            [step("replace", "docker:index/network:Network", "internal", "laravel-stack:index:N")],
            "the network `internal` is replaced",
        ),
        (
            [
                step(
                    "update",
                    "docker:index/volume:Volume",
                    "x",
                    "laravel-stack:index:N",
                    protect=True,
                )
            ],
            "the protected resource `x`",
        ),
        (
            [
                container(
                    "replace",
                    "web",
                    "shop-web",
                    old={"ports": [{"ip": "0.0.0.0", "external": 80}]},
                    new={"ports": [{"ip": "0.0.0.0", "external": 8080}]},
                    diff=["ports[0].external"],
                )
            ],
            "the published address changes: 0.0.0.0:80 → 0.0.0.0:8080",
        ),
    ],
)
def test_dangers_fail_unless_overridden(tmp_path, steps, danger):
    code, md = run(tmp_path, preview(steps))
    assert code == 1
    assert "### ⛔ Dangers (1)" in md
    assert danger in md
    assert "`release-override` label" in md
    code, md = run(tmp_path, preview(steps), "--override")
    assert code == 0
    assert "Overridden by the `release-override` label" in md


def test_a_container_update_that_keeps_the_port_is_no_danger(tmp_path):
    same = {"ports": [{"ip": "127.0.0.1", "external": 80}]}
    steps = [container("update", "web", "w", old=same, new=same, diff=["ports[0].internal"])]
    assert run(tmp_path, preview(steps))[0] == 0


def test_config_changes_mask_secrets_and_a_database_secret_is_a_danger(tmp_path):
    before = tmp_path / "before.yaml"
    after = tmp_path / "after.yaml"
    before.write_text(
        "config:\n  laravel-stack:database:\n    password:\n      secure: v1:AAAA\n"
        "  laravel-stack:web:\n    port: 80\n"
    )
    after.write_text(
        "config:\n  laravel-stack:database:\n    password:\n      secure: v1:BBBB\n"
        "  laravel-stack:web:\n    port: 8080\n  laravel-stack:app:\n    debug: false\n"
    )
    code, md = run(
        tmp_path,
        preview(chain(["health"])),
        "--config-before",
        str(before),
        "--config-after",
        str(after),
    )
    assert code == 1
    assert "- `database.password`: [secret] → [secret]" in md
    assert "- `web.port`: `80` → `8080`" in md
    assert "- `app.debug`: (unset) → `false`" in md
    assert "the database secret `database.password` changes" in md
    assert "v1:AAAA" not in md and "v1:BBBB" not in md


def test_a_failed_preview_shows_the_policy_violations_and_cannot_be_overridden(tmp_path):
    log = tmp_path / "preview.log"
    log.write_text(
        "Previewing update (prod):\nPolicies:\n    ❌ laravel-stack-guardrails@v0.0.1\n"
        "        - [mandatory]  no-debug-in-production  (docker:index:Container: shop-app)\n"
        "\nDiagnostics:\n  error: preview failed\n"
    )
    text = preview(
        code_change(), diagnostics=[{"severity": "error", "message": "error: preview failed\n"}]
    )
    code, md = run(tmp_path, text, "--override", "--log", str(log))
    assert code == 1
    assert "**⛔ The preview failed**" in md
    assert "no-debug-in-production" in md
    assert "Diagnostics" not in md  # only the Policies block of the log


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"steps": 3}'])
def test_unreadable_input_exits_2_and_says_why(tmp_path, text, capsys):
    code, md = run(tmp_path, text)
    assert (code, md) == (2, "")
    assert "pass the output of `pulumi preview --json --diff`" in capsys.readouterr().err


def test_an_empty_preview_is_a_failed_preview_and_shows_its_log(tmp_path):
    # `pulumi preview --json` prints nothing when the program fails before any step
    log = tmp_path / "preview.log"
    log.write_text("error: laravel-stack config: web.port: Input should be less than 65536\n")
    code, md = run(tmp_path, "", "--log", str(log))
    assert code == 1
    assert "the preview produced no steps" in md
    assert "web.port: Input should be less than 65536" in md


def test_the_raw_diff_is_cut_to_size(tmp_path):
    big = "x" * 1000
    steps = [
        step(
            "update",
            "command:local:Command",
            f"c{i}",
            "laravel-stack:index:P",
            {"create": big},
            {"create": big + "y"},
            diff=["create"],
        )
        for i in range(400)
    ]
    _, md = run(tmp_path, preview(steps))
    raw = md.split("```diff\n", 1)[1].split("\n```", 1)[0]
    assert len(raw) <= rp.RAW_LIMIT + 100
    assert "… cut:" in raw
    assert "(1000 chars)" in raw
