"""Roll back by digest, the retention step, and the release history it prints (`releases`)."""

from __future__ import annotations

import json
import shlex

import pytest

from components import commands
from components.config import ConfigError, parse

from ..config.test_config import with_
from ..harness import SECRET_KEYS, run_program, valid_config

REPO = "registry.example.com/acme/shop"
DIGEST = "sha256:" + "2" * 64


def test_image_digest_deploys_a_pushed_build_without_building():
    run = run_program(with_("image.digest", DIGEST))
    assert not run.of_type("image:Image")
    pulled = run.one("remoteImage:RemoteImage", "app")
    assert run.value(pulled, "name") == f"{REPO}@{DIGEST}"
    assert run.outputs["image"] == f"{REPO}@{DIGEST}"
    # the whole chain still runs for it, and the engine keeps the tag it was released with
    steps = [r.name for r in run.of_type("command:local:Command")]
    assert {"cache-clear", "opcache-reset", "cache-rebuild", "health", "verify"} <= set(steps)
    argv = retention_argv(run.line(run.one("command:local:Command", "retention")))
    assert argv[-7:-5] == [f"{REPO}@{DIGEST}", ""]


def retention_argv(line: str) -> list[str]:
    """The retention script's own command, out of `{ <proxy serves it> && <it>; } || {...}`."""
    main = line.split(" || ")[0].removeprefix("{ ").removesuffix("; }")
    return shlex.split(main.split(" && ")[1])


def test_a_digest_must_be_a_full_sha256():
    with pytest.raises(ConfigError) as err:
        parse(with_("image.digest", "sha256:abc", valid_config()), SECRET_KEYS)
    assert err.value.problems[0].startswith("image.digest: String should match pattern")


def test_the_retention_step_records_the_build_with_its_tag_and_keeps_n():
    run = run_program(with_("release.keep", 3))
    argv = retention_argv(run.line(run.one("command:local:Command", "retention")))
    build = run.outputs["image"]
    # with the backups volume (and the database image to list it): each release names its
    # backup; with the releases volume: each its recorded outcome
    assert argv == ["sh", "-s", "--", "unix:///var/run/docker.sock", "3", REPO, build,
                    "2026.11.25-1", "shop-backups", "mysql:8.0", "shop-releases", "<",
                    "components/scripts/retention.sh"]  # fmt: skip
    off = run_program(with_("release.backup", False))
    argv = retention_argv(off.line(off.one("command:local:Command", "retention")))
    assert argv[-7:] == [
        off.outputs["image"],
        "2026.11.25-1",
        "",
        "mysql:8.0",
        "shop-releases",
        "<",
        "components/scripts/retention.sh",
    ]
    with pytest.raises(ConfigError):
        parse(with_("release.keep", 0, valid_config()), SECRET_KEYS)


def test_the_releases_output_is_the_history_the_engine_printed():
    two = {"build": "r@sha256:2", "digest": "sha256:2", "tag": "v2", "deployed": "2026-11-26T02Z",
           "backup": "20261126T020000Z-2222222222222222.sql.gz"}  # fmt: skip
    one = {"build": "r@sha256:1", "digest": "sha256:1", "tag": "v1", "deployed": "2026-11-25T02Z"}
    out = "".join(json.dumps(e) + "\n" for e in (two, one))
    none = {"outcome": "", "duration_s": None, "by": ""}
    assert commands.history(out) == [{**two, **none}, {**one, "backup": "", **none}]
    assert commands.history("retention: ok") == []
    # the recorded outcomes (release_step.py's events, the newest last from the step itself)
    ok = {"build": "r@sha256:2", "outcome": "succeeded", "duration_s": 41, "by": "ci",
          "finished": "2026-11-26T02:01:00Z"}  # fmt: skip
    failed = {**ok, "outcome": "failed", "failed_step": "migrate", "finished": "2026-11-26T03Z"}
    out += f"event: {json.dumps(ok)}\nevent: {json.dumps(failed)}\n"
    assert commands.history(out)[0] == {**two, "outcome": "succeeded", "duration_s": 41, "by": "ci"}
    assert commands.history(out)[1] == {**one, "backup": "", **none}
    assert commands.events(out) == [failed, ok]
    skipped = run_program(with_("release", {"skip": ["retention"]}))
    assert skipped.outputs["releases"] == []
