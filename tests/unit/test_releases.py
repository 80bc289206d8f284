"""The release history (`releases` output), the retention step it feeds, rollback by digest."""

from __future__ import annotations

import shlex

from components.releases import next_history

from .harness import fake_digest, run_program, valid_config
from .test_config import with_

REPO = "registry.example.com/acme/shop"


def build(n: int) -> str:
    return f"{REPO}@sha256:{str(n) * 64}"


def entry(n: int, tag: str, when: str) -> dict[str, str]:
    return {"build": build(n), "digest": f"sha256:{str(n) * 64}", "tag": tag, "deployed": when}


def test_a_new_build_goes_in_front_and_the_history_keeps_n():
    h = next_history(None, build(1), "v1", "t1", 3)
    assert h == [entry(1, "v1", "t1")]
    for n in (2, 3, 4):
        h = next_history(h, build(n), f"v{n}", f"t{n}", 3)
    assert h == [entry(4, "v4", "t4"), entry(3, "v3", "t3"), entry(2, "v2", "t2")]


def test_the_same_build_again_changes_nothing():
    h = [entry(2, "v2", "t2"), entry(1, "v1", "t1")]
    assert next_history(h, build(2), "other-tag", "t9", 5) == h


def test_a_rollback_moves_the_build_to_the_front_with_its_recorded_tag():
    h = [entry(3, "v3", "t3"), entry(2, "v2", "t2"), entry(1, "v1", "t1")]
    assert next_history(h, build(2), "", "t4", 5) == [
        entry(2, "v2", "t4"),
        entry(3, "v3", "t3"),
        entry(1, "v1", "t1"),
    ]


def test_junk_in_the_previous_output_is_ignored():
    assert next_history(["x", {"no": "build"}], build(1), "v1", "t", 2) == [entry(1, "v1", "t")]


def test_the_retention_step_keeps_the_history_and_the_releases_output_names_it():
    history = [entry(2, "v2", "t2"), entry(1, "v1", "t1")]
    run = run_program(with_("release.keep", 3), history=history)
    new = f"{REPO}@{fake_digest(REPO + ':2026.11.25-1')}"
    retention = run.value(run.one("command:local:Command", "retention"), "create")
    argv = shlex.split(retention)
    assert argv[:2] == ["sh", "-c"] and argv[3:7] == [
        "retention",
        "3",
        REPO,
        "unix:///var/run/docker.sock",
    ]
    assert argv[7:] == [
        new.rsplit("@", 1)[1],
        entry(2, "", "")["digest"],
        entry(1, "", "")["digest"],
    ]
    releases = run.outputs["releases"]
    assert [r["build"] for r in releases] == [new, build(2), build(1)]
    assert releases[0]["tag"] == "2026.11.25-1"


def test_image_digest_deploys_a_pushed_build_without_building():
    digest = "sha256:" + "2" * 64
    run = run_program(with_("image.digest", digest), history=[entry(2, "v2", "t2")])
    assert not run.of_type("image:Image")
    pulled = run.one("remoteImage:RemoteImage", "app")
    assert run.value(pulled, "name") == f"{REPO}@{digest}"
    assert run.outputs["image"] == f"{REPO}@{digest}"
    # the whole chain still runs for it
    steps = [r.name for r in run.of_type("command:local:Command")]
    assert {"cache-clear", "opcache-reset", "cache-rebuild", "health", "verify"} <= set(steps)
    assert run.outputs["releases"][0]["tag"] == "v2"


def test_a_digest_must_be_a_full_sha256():
    import pytest

    from components.config import ConfigError, parse

    from .harness import SECRET_KEYS

    with pytest.raises(ConfigError) as err:
        parse(with_("image.digest", "sha256:abc", valid_config()), SECRET_KEYS)
    assert err.value.problems[0].startswith("image.digest: String should match pattern")
