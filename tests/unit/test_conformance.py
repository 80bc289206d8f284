"""The conformance comparison itself: masking, normalization and field-path differences."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e import conformance
from tests.e2e.conformance import (
    VECTORS,
    differences,
    mask,
    normalize_state,
    preview_ops,
)

DIGEST = "sha256:" + "ab" * 32
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"}
URN = "urn:pulumi:e2e::laravel-stack::laravel-stack:index:LaravelStack$laravel-stack:index:WebRuntime$docker:index/container:Container::lse2e-app"  # noqa: E501


def exported(*resources: dict) -> dict:
    return {"deployment": {"resources": list(resources)}}


def container(**outputs) -> dict:
    return {
        "urn": URN,
        "custom": True,
        "type": "docker:index/container:Container",
        "inputs": {"name": "lse2e-app-1a2b3c4", "image": DIGEST, "envs": SECRET,
                   "labels": [{"label": "b", "value": "2"}, {"label": "a", "value": "1"}]},
        "outputs": {"name": "lse2e-app-1a2b3c4", "image": DIGEST, "envs": SECRET,
                    "labels": [{"label": "a", "value": "1"}, {"label": "b", "value": "2"}],
                    "networkDatas": [{"ipAddress": "172.18.0.3"}], **outputs},
    }  # fmt: skip


def test_masks_what_varies_between_runs():
    text = f"lse2e-app-1a2b3c4 {DIGEST} /tmp/pytest-1/project/x 2026-11-25T20:01:02.5Z 10.0.0.7"
    assert mask(text, "/tmp/pytest-1/project") == (
        "lse2e-app-<rand> sha256:<digest> <project>/x <time> <ip>"
    )
    assert mask({"k": SECRET}, "/p") == {"k": "<secret>"}
    # a registry address keeps its port: it is part of what the program declares
    assert mask("127.0.0.1:5001/app", "/p") == "127.0.0.1:5001/app"


def test_state_keeps_every_input_and_output_masked_and_sorts_sets():
    state = normalize_state(exported(container()), "/p")
    entry = state["docker:index/container:Container::lse2e-app"]
    # every output, an address masked (the whole state shape is upstream's or it is not)
    assert entry["outputs"]["networkDatas"] == [{"ipAddress": "<ip>"}]
    assert entry["outputs"]["name"] == "lse2e-app-<rand>"
    assert entry["inputs"]["envs"] == "<secret>"
    assert [lbl["label"] for lbl in entry["inputs"]["labels"]] == ["a", "b"]  # a set


def test_a_read_back_difference_is_reported_with_its_field_path():
    # Declared alike; read back differently: exactly the phantom diff of a no-op preview.
    upstream = normalize_state(
        exported({**container(healthcheck={"startPeriod": "1m0s"}),
                  "inputs": {**container()["inputs"], "healthcheck": {"startPeriod": "60s"}}}),
        "/p",
    )  # fmt: skip
    here = normalize_state(
        exported({**container(healthcheck={"startPeriod": "60s"}),
                  "inputs": {**container()["inputs"], "healthcheck": {"startPeriod": "60s"}}}),
        "/p",
    )  # fmt: skip
    assert differences(upstream, here) == [
        "docker:index/container:Container::lse2e-app.outputs.healthcheck.startPeriod: "
        "upstream '1m0s', here '60s'"
    ]


def test_fields_on_one_side_only_are_differences():
    assert differences({"a": {"b": 1}}, {"a": {"c": 1}}) == [
        "a.b: upstream 1, here missing",
        "a.c: upstream missing, here 1",
    ]
    assert differences({"a": [1, 2]}, {"a": [1, 2]}) == []


def test_preview_ops_ignore_same_and_providers():
    preview = {
        "steps": [
            {"op": "same", "urn": URN},
            {"op": "replace", "urn": URN},
            {"op": "update", "urn": "urn:pulumi:e2e::p::pulumi:providers:docker::docker"},
        ]
    }
    assert preview_ops(preview) == [["docker:index/container:Container::lse2e-app", "replace"]]


def test_record_mode_writes_and_compare_mode_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(conformance, "VECTORS", tmp_path / "v.json")
    monkeypatch.setattr(conformance, "RECORD", True)
    rec = conformance.Vectors()
    rec.check("s", {"x": 1})
    rec.save()
    assert json.loads((tmp_path / "v.json").read_text()) == {"s": {"x": 1}}
    monkeypatch.setattr(conformance, "RECORD", False)
    cmp = conformance.Vectors()
    cmp.check("s", {"x": 1})
    with pytest.raises(AssertionError, match=r"s: differs from the upstream plugins:\nx: "):
        cmp.check("s", {"x": 2})
    with pytest.raises(AssertionError, match="no upstream vector 'other'"):
        cmp.check("other", {})


def test_committed_vectors_cover_every_scenario():
    vectors = json.loads(VECTORS.read_text())
    assert set(vectors) == {
        "state after up",
        "state after a failed release",
        "state after a refresh of a stopped app container",
        "preview: after a refresh of a stopped app container",
        "preview: no change",
        "preview: code change",
        "preview: php.ini change",
        "preview: queue replicas 1 -> 2",
        "preview: failing release",
        "tls files: state after up",
        "tls acme: state after up",
        "swarm: state after up",
        "swarm: preview: code change",
        "swarm: state after a code change",
        "swarm: state after a rollout Swarm rolled back",
    }
    assert vectors["preview: no change"] == []
    # Swarm: a code change updates the app and workers in place; the services' specs stay
    # readable (the secret env is a docker secret), and a ServiceConfig has no __meta upstream
    swarm = vectors["swarm: state after up"]
    assert ["docker:index/service:Service::app", "update"] in vectors["swarm: preview: code change"]
    assert swarm["docker:index/service:Service::app"]["inputs"]["taskSpec"] != "<secret>"
    assert swarm["docker:index/secret:Secret::env"]["inputs"]["data"] == "<secret>"
    assert (
        "__meta" not in swarm["docker:index/serviceConfig:ServiceConfig::task_start.sh"]["outputs"]
    )
    # the engine, not the provider, keeps secrets: an upload holding the key is a secret list
    edge = vectors["tls files: state after up"]["docker:index/container:Container::edge"]
    assert edge["inputs"]["uploads"] == "<secret>"
    state = vectors["state after up"]
    # upstream's bridge defaults are part of what the stand-ins must record
    app = state["docker:index/container:Container::lse2e-app"]["inputs"]
    assert app["networkMode"] == "bridge" and app["mustRun"] is True
    assert "__defaults" in app


def test_the_context_digest_is_compared_not_masked():
    # It depends only on the context's files: a stand-in that hashes them otherwise than upstream
    # makes every release a rebuild on the other plugins (issue 19).
    ctx = "94d8c84d8718b898513e8eceb5cbacf369d53458fe55bb7e939c3a42eb230194"
    build = {"context": "<ctx>", "contextDigest": ctx, "args": {"A": DIGEST}}
    urn = URN.replace("container:Container::lse2e-app", "image:Image::app")
    image: dict[str, Any] = {
        "urn": urn,
        "custom": True,
        "type": "docker:index/image:Image",
        "inputs": {"imageName": "r:t", "build": build},
        "outputs": {"imageName": "r:t", "build": build, "repoDigest": f"r@{DIGEST}"},
    }  # fmt: skip
    [state] = normalize_state(exported(image), "/tmp/p").values()
    for side in ("inputs", "outputs"):
        assert state[side]["build"]["contextDigest"] == ctx
        assert state[side]["build"]["args"] == {"A": "sha256:<digest>"}  # the rest still masked
    assert state["outputs"]["repoDigest"] == "r@sha256:<digest>"
    other = dict(image, inputs={"imageName": "r:t", "build": {**build, "contextDigest": "0" * 64}})
    [changed] = normalize_state(exported(other), "/tmp/p").values()
    assert differences(state, changed) == [
        f"inputs.build.contextDigest: upstream {ctx!r}, here {'0' * 64!r}"
    ]


def test_a_commands_id_is_compared_with_its_random_part_masked():
    def command(rid: str) -> dict:
        urn = URN.replace(
            "docker:index/container:Container::lse2e-app", "command:local:Command::verify"
        )
        return {"urn": urn, "custom": True, "type": "command:local:Command", "id": rid,
                "inputs": {}, "outputs": {"stdout": "ok"}}  # fmt: skip

    upstream = normalize_state(exported(command("verify35b49916")), "/p")
    assert upstream["command:local:Command::verify"]["id"] == "verify<hex8>"
    assert upstream["command:local:Command::verify"]["outputs"] == {"stdout": "<present>"}
    # the id's shape is part of the state: a dash more is a difference
    assert differences(upstream, normalize_state(exported(command("verify-ad108240")), "/p"))
