"""Operations: keep N builds, roll back by digest without a build, recover an interrupted deploy.

Stack `e2e-ops`, prefix `lsops`, port 18084, its own repository
(`127.0.0.1:5001/laravel-stack/ops-app`) so that the builds counted are this stack's only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from .conftest import EngineEvents, Load, Pulumi, docker_cleanup, http, new_project, sh, wait_for

STACK = "e2e-ops"
NAME = "lsops"
PORT = 18084
BASE = f"http://127.0.0.1:{PORT}"
REPO = "127.0.0.1:5001/laravel-stack/ops-app"
OTHER = "lsops-other-app"  # another app's name for one of the builds


def builds_on_engine() -> dict[str, list[str]]:
    """The repository's builds on the engine: image id -> its references."""
    ids = sh("docker", "image", "ls", "--no-trunc", "--format", "{{.ID}}", REPO).stdout.split()
    out = {}
    for image in sorted(set(ids)):
        refs = sh("docker", "image", "inspect", "--format",
                  "{{json .RepoTags}}{{json .RepoDigests}}", image).stdout  # fmt: skip
        out[image] = refs.strip()
    return out


def served() -> tuple[int, object]:
    return http("/up", base=BASE)


@pytest.fixture(scope="module")
def ops(tmp_path_factory) -> Iterator[Pulumi]:
    sh("docker", "info")
    docker_cleanup(NAME)
    sh("docker", "image", "rm", "-f", f"{OTHER}:kept", check=False)
    p = new_project(tmp_path_factory, STACK)
    p.set("name", NAME)
    p.set("web.port", str(PORT))
    p.set("image.repository", REPO)
    p.set("release.keep", "5")
    yield p
    p.run("destroy", "--yes", check=False)
    docker_cleanup(NAME)
    sh("docker", "image", "rm", "-f", f"{OTHER}:kept", check=False)


def release(p: Pulumi, version: str) -> tuple[str, float]:
    p.set("image.build_args.APP_CODE_VERSION", version)
    t0 = time.monotonic()
    p.up()
    return p.outputs()["image"], time.monotonic() - t0


def test_seven_releases_leave_exactly_five_builds(ops):
    deployed = []
    for n in range(1, 8):
        # the last one under the load the rollback gets: its time is the rollback's yardstick
        load = Load(rate=20, base=BASE) if n == 7 else None
        with load or contextlib.nullcontext():
            image, took = release(ops, f"v{n}")
        deployed.append(image)
        print(f"release v{n} took {took:.1f}s{' (under 20 req/s)' if load else ''}")
        if load:
            assert set(load.builds) <= set(deployed[-2:]), load.builds
        if n == 1:
            # another app's name for the first build: retention must leave that image alone
            sh("docker", "tag", image, f"{OTHER}:kept")
    assert len(set(deployed)) == 7
    left = builds_on_engine()
    digests = {d.rsplit("@", 1)[1] for d in deployed[-5:]}
    assert len(left) == 5, left
    for refs in left.values():
        assert any(d in refs for d in digests), refs
    # the first build lost this repository's references but is still there under the other name
    other = sh("docker", "image", "inspect", "--format", "{{json .RepoTags}}{{json .RepoDigests}}",
               f"{OTHER}:kept").stdout  # fmt: skip
    assert REPO not in other, other
    releases = ops.outputs()["releases"]
    assert [r["build"] for r in releases] == deployed[::-1][:5]
    assert all(r["tag"] == "local" and r["deployed"].endswith("Z") for r in releases)


def test_rollback_to_the_previous_build_under_load_without_a_build(ops):
    releases = ops.outputs()["releases"]
    current, previous = releases[0]["build"], releases[1]["build"]
    # README "Roll back": `pulumi config set --path image.digest sha256:… && pulumi up`
    ops.set("image.digest", previous.rsplit("@", 1)[1])
    preview = ops.preview()
    steps = preview.get("steps", [])
    image_ops = {s["op"] for s in steps if "docker:index/image:Image" in s["urn"]}
    # nothing is built or pushed: the Image resource only leaves the stack (a no-op delete)
    assert image_ops == {"delete"}, image_ops
    with Load(rate=20, base=BASE) as load:
        t0 = time.monotonic()
        ops.up()
        took = time.monotonic() - t0
    failures = load.failures(current, previous)
    assert failures == {}, f"failed requests during the rollback: {failures}"
    assert served()[1]["build"] == previous  # type: ignore[index]
    after = ops.outputs()["releases"]
    assert after[0]["build"] == previous and after[1]["build"] == current
    print(f"rollback took {took:.1f}s (under 20 req/s)")


def test_an_interrupted_deploy_recovers_with_cancel_and_up(ops):
    ops.rm("image.digest")
    ops.set("image.build_args.APP_CODE_VERSION", "v8")
    old = served()[1]["build"]  # type: ignore[index]
    argv = ["pulumi", "up", "--yes", "--skip-preview", *ops.policy, "--stack", ops.stack,
            "--non-interactive"]  # fmt: skip
    with EngineEvents(name=NAME) as recorded, Load(rate=20, base=BASE) as load:
        proc = subprocess.Popen(argv, cwd=ops.project, env=ops.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip

        def in_the_chain() -> bool:
            batch = "route:clear view:clear event:clear cache:clear"  # the cache-clear step
            return any(batch in line for line in recorded.lines)

        try:
            wait_for(in_the_chain, timeout=300, interval=0.2, what="the chain's cache-clear")
        finally:
            # the CI runner dies: the whole process group, no chance to clean up
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        apps = sh("docker", "ps", "-q", "--filter", f"label=laravel-stack.stack={NAME}",
                  "--filter", "label=laravel-stack.role=app").stdout.split()  # fmt: skip
        assert len(apps) == 2, "the kill came after the new container, before the old one went"
        locked = ops.run("up", "--yes", "--skip-preview", check=False)
        assert locked.returncode != 0 and "locked" in (locked.stdout + locked.stderr).lower()
        ops.run("cancel", "--yes")
        # the step that was running is a pending create in the state: drop it, it runs again
        ops.run("refresh", "--yes", "--clear-pending-creates")
        ops.up()
    new = ops.outputs()["image"]
    assert new != old
    failures = load.failures(old, new)
    assert failures == {}, f"failed requests: {failures}"
    assert served()[1]["build"] == new  # type: ignore[index]
    # one app container, and nothing of the stack outside its state
    state = ops.state()["deployment"]["resources"]
    declared = {
        r["outputs"].get("name") for r in state if r["type"] == "docker:index/container:Container"
    }
    running = set(sh("docker", "ps", "-a", "--filter", f"label=laravel-stack.stack={NAME}",
                     "--format", "{{.Names}}").stdout.split())  # fmt: skip
    assert running == declared, (running, declared)
    apps = [n for n in running if n.startswith(f"{NAME}-app-")]
    assert len(apps) == 1, apps
    volumes = set(sh("docker", "volume", "ls", "--format", "{{.Name}}").stdout.split())
    assert {v for v in volumes if v.startswith(f"{NAME}-")} == {
        f"{NAME}-db-data",
        f"{NAME}-storage",
        f"{NAME}-public",
    }
    networks = set(sh("docker", "network", "ls", "--format", "{{.Name}}").stdout.split())
    assert {n for n in networks if n.startswith(f"{NAME}-")} == {f"{NAME}-internal"}
    assert ops.state()["deployment"].get("pending_operations") in (None, [])
