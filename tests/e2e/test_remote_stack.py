"""A server reached only over SSH (proving-ground/remote-host: a second Docker engine in its own
network namespace), deployed the way the field notes do it: the image is built and pushed here,
the server pulls the digest; an existing network (`network.external`); Redis for cache, sessions
and queue.

Evidence comes from the server's engine (its own socket, which the test reads directly) and from
inside its containers; this machine's engine must never run a container of this stack.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stack_settings

from .support.engine import engine_restart_recovers
from .support.events import BATCH, EngineEvents, assert_chain_in_order, release_events, steps_seen
from .support.http import http, wait_for
from .support.load import Load, Writer, print_figures
from .support.pulumi import REPO, Pulumi, new_project
from .support.shell import sh

STACK = "e2e-remote"  # never shared with the local suite's stack
NAME = "lsrem"
PORT = 18081
NETWORK = "lsrem_internal"  # created beforehand on the server, like `docker_internal`


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, str]]:
    out = sh("bash", str(REPO / "proving-ground/remote-host"), "up", timeout=180).stdout
    info = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    info["REMOTE_KNOWN_HOSTS"] = info["REMOTE_KNOWN_HOSTS"].strip("'")
    # The deploying machine's ssh agent holds the key: it never enters config or state.
    agent = sh("ssh-agent", "-s").stdout
    env = dict(
        part.split("=", 1)
        for part in agent.replace(";", "\n").split()
        if part.startswith(("SSH_AUTH_SOCK=", "SSH_AGENT_PID="))
    )
    sh("ssh-add", "-q", info["REMOTE_KEY"], env={**os.environ, **env})
    info.update(env)
    yield info
    # The shared connections (ControlPersist), the agent and the server end with the suite
    # (its data-root stays, as a cache of the pulled images).
    subprocess.run(["pkill", "-f", f"laravel-stack-{NAME}-"], check=False)
    os.kill(int(env["SSH_AGENT_PID"]), signal.SIGTERM)
    sh("bash", str(REPO / "proving-ground/remote-host"), "down", timeout=120)


def rdocker(server: dict[str, str], *args: str, check: bool = True) -> str:
    """The server's engine, read directly through its socket (the test's own view)."""
    return sh("docker", "--host", server["REMOTE_DOCKER_HOST"], *args, check=check).stdout


def base(server: dict[str, str]) -> str:
    return f"http://{server['REMOTE_ADDRESS']}:{PORT}"


def rhttp(server: dict[str, str], path: str, timeout: float = 5) -> tuple[int, Any]:
    return http(path, timeout=timeout, base=base(server))


def server_cleanup(server: dict[str, str]) -> None:
    ids = rdocker(server, "ps", "-aq", "--filter", f"label=laravel-stack.stack={NAME}").split()
    if ids:
        rdocker(server, "rm", "-f", *ids)
    for vol in ["db-data", "storage", "public"]:
        rdocker(server, "volume", "rm", "-f", f"{NAME}-{vol}", check=False)


def local_containers() -> list[str]:
    return sh("docker", "ps", "-aq", "--filter", f"label=laravel-stack.stack={NAME}").stdout.split()


@pytest.fixture(scope="module")
def remote(tmp_path_factory, server) -> Iterator[Pulumi]:
    server_cleanup(server)
    if NETWORK not in rdocker(server, "network", "ls", "--format", "{{.Name}}").split():
        rdocker(server, "network", "create", "--driver", "bridge", NETWORK)
    p = new_project(tmp_path_factory, STACK)
    p.env.update(SSH_AUTH_SOCK=server["SSH_AUTH_SOCK"])
    settings = {
        **stack_settings.remote(NAME, "remote", PORT, server),
        "network.name": NETWORK,
        "network.external": "true",
        **stack_settings.REDIS,
    }
    for key, value in settings.items():
        p.set(key, value)
    yield p
    print_figures("fault figures (the SSH server)", FIGURES)
    p.run("destroy", "--yes", check=False)
    server_cleanup(server)


def app(server: dict[str, str]) -> str:
    return one_of(server, "app")


def one_of(server: dict[str, str], role: str) -> str:
    names = rdocker(
        server,
        "ps",
        "--filter",
        f"label=laravel-stack.stack={NAME}",
        "--filter",
        f"label=laravel-stack.role={role}",
        "--format",
        "{{.Names}}",
    ).split()
    assert len(names) == 1, names
    return names[0]


def served_build(server: dict[str, str]) -> str:
    status, body = rhttp(server, "/up")
    assert status == 200, body
    return body["build"]


def redis_keys(server: dict[str, str]) -> list[str]:
    out = rdocker(server, "exec", f"{NAME}-redis", "sh", "-c",
                  "redis-cli -n 0 --scan; redis-cli -n 1 --scan")  # fmt: skip
    return out.split()


@pytest.fixture(scope="module")
def deployed(remote: Pulumi, server) -> dict:
    with EngineEvents(name=NAME, docker_host=server["REMOTE_DOCKER_HOST"]) as events:
        res = remote.up()
    return {"up": res, "events": release_events(events.lines), "outputs": remote.outputs()}


def test_up_from_scratch_runs_on_the_server_only(server, deployed):
    out = deployed["outputs"]
    assert served_build(server) == out["image"]
    assert out["web_url"] == f"{base(server)}/"
    roles = {
        r: rdocker(server, "ps", "--filter", f"label=laravel-stack.stack={NAME}",
                   "--filter", f"label=laravel-stack.role={r}", "--format", "{{.Names}}").split()
        for r in ["app", "web", "mysql", "redis", "queue", "scheduler"]
    }  # fmt: skip
    assert all(roles.values()), roles
    assert local_containers() == [], "this machine's engine ran a container of the remote stack"
    # Built and pushed here, pulled by digest there: the server has the digest, never the tag.
    repo = out["image"].split("@")[0]
    assert sh("docker", "image", "inspect", f"{repo}:remote").returncode == 0
    assert rdocker(server, "image", "inspect", f"{repo}:remote", check=False) == "[]\n"
    digest_id = rdocker(server, "image", "inspect", "--format", "{{.Id}}", out["image"]).strip()
    assert rdocker(server, "inspect", "--format", "{{.Image}}", app(server)).strip() == digest_id
    # The existing network is used, not owned; MySQL and Redis sit on it only, unpublished.
    for c in [f"{NAME}-mysql", f"{NAME}-redis"]:
        nets = json.loads(
            rdocker(server, "inspect", "--format", "{{json .NetworkSettings.Networks}}", c)
        )
        assert list(nets) == [NETWORK], (c, nets)
        assert rdocker(server, "port", c, check=False).strip() == ""


def test_the_app_keeps_cache_sessions_and_queue_in_redis(server, deployed):
    status, body = rhttp(server, "/stores")
    assert status == 200, body
    assert (body["cache"], body["session"], body["queue"]) == ("redis", "redis", "redis")
    assert body["cache_value"] == deployed["outputs"]["image"]
    # A delayed job waits in Redis; a job now is run by a worker of the deployed build.
    status, delayed = rhttp(server, "/queue?delay=600")
    assert status == 202 and delayed["queue"] == "redis", delayed
    keys = redis_keys(server)
    assert any(k.endswith("laravel-stack:probe") for k in keys), keys
    assert any(k.endswith(body["session_id"]) for k in keys), keys
    assert any(k.endswith("queues:default:delayed") for k in keys), keys
    status, now = rhttp(server, "/queue")
    assert status == 202, now

    def ran():
        _, runs = rhttp(server, "/queue/runs")
        return next((r for r in runs["runs"] if r["token"] == now["token"]), None)

    run = wait_for(ran, 60, what="the queued job to run from Redis")
    assert run["worker_build"] == deployed["outputs"]["image"]


def test_the_chain_ran_in_order_on_the_server(deployed):
    assert_chain_in_order(deployed["events"])


def test_a_second_up_is_a_no_op(remote, server, deployed):
    remote.run("preview", "--expect-no-changes")
    with EngineEvents(name=NAME, docker_host=server["REMOTE_DOCKER_HOST"]) as events:
        remote.up("--expect-no-changes")
    assert steps_seen(release_events(events.lines)) == []


def test_after_the_servers_engine_restarts_the_site_comes_back_by_itself(remote, server, deployed):
    # The server rebooted (its dockerd restarted); no `pulumi` command runs. The next test is
    # the code change under 20 req/s after it.
    build = served_build(server)
    seconds = engine_restart_recovers(
        True, lambda path: rhttp(server, path, timeout=2), build, NAME,
        docker_host=server["REMOTE_DOCKER_HOST"],
    )  # fmt: skip
    print(f"server engine restart: {build} served again after {seconds:.1f}s")
    remote.run("preview", "--expect-no-changes")


def test_a_code_change_under_load_fails_no_request(remote, server, deployed):
    old, old_app = served_build(server), app(server)
    remote.set("image.build_args.APP_CODE_VERSION", "r2")
    with (
        EngineEvents(name=NAME, docker_host=server["REMOTE_DOCKER_HOST"]) as recorded,
        Load(rate=20, base=base(server)) as load,
    ):
        remote.up()
    new = remote.outputs()["image"]
    assert new != old
    failures = load.failures(old, new)
    assert failures == {}, f"failed requests during the release: {failures}"
    assert load.builds[new] > 0
    for _ in range(10):
        assert served_build(server) == new
    assert app(server) != old_app
    seen = [s for _, s in steps_seen(release_events(recorded.lines))]
    order = ["cache-clear", "opcache-reset", "cache-rebuild", "health", "switch", "verify"]
    assert [seen.index(s) for s in order] == sorted(seen.index(s) for s in order), seen
    assert local_containers() == []


def test_a_failing_release_keeps_the_old_build_serving(remote, server, deployed):
    live = served_build(server)
    bad = remote.project / "examples/laravel-app/database/migrations/2099_01_01_000000_boom.php"
    bad.write_text(
        "<?php\nuse Illuminate\\Database\\Migrations\\Migration;\n"
        "return new class extends Migration {\n"
        "    public function up() { throw new RuntimeException('boom: broken migration'); }\n"
        "};\n"
    )
    with Load(rate=20, base=base(server)) as load:
        res = remote.up(check=False)
    assert res.returncode != 0
    assert "boom: broken migration" in res.stdout + res.stderr
    assert set(load.builds) == {live}, load.builds
    bad.unlink()
    remote.up()
    assert served_build(server) == live


def rows(server: dict[str, str]) -> set[int]:
    out = rdocker(server, "exec", f"{NAME}-mysql", "sh", "-c",
                  'mysql -N -uroot -p"$MYSQL_ROOT_PASSWORD" laravel -e '
                  '"SELECT id FROM visits"')  # fmt: skip
    return {int(x) for x in out.split()}


#: a fault case's figures, printed with the module's summary (README's fault table)
FIGURES: dict[str, dict[str, object]] = {}


def test_the_ssh_connection_dropped_mid_chain_fails_in_one_line_and_up_recovers(
    remote, server, deployed
):
    # The shared connection (ControlMaster) dies while a step runs on the server: its ssh, and
    # any other one multiplexed on it, lose the server at once.
    old = served_build(server)
    remote.set("image.build_args.APP_CODE_VERSION", "ssh-drop")
    rebuild = re.compile(BATCH + "config:cache route:cache")
    argv = ["pulumi", "up", "--yes", "--skip-preview", *remote.policy, "--stack", remote.stack,
            "--non-interactive"]  # fmt: skip
    rbase = base(server)
    with (
        EngineEvents(name=NAME, docker_host=server["REMOTE_DOCKER_HOST"]) as recorded,
        Load(rate=20, base=rbase) as load,
        Writer(base=rbase) as writer,
    ):
        proc = subprocess.Popen(argv, cwd=remote.project, env=remote.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip

        def rebuilding() -> bool:
            actions = [json.loads(x).get("Action", "") for x in list(recorded.lines)]
            return any(rebuild.search(a.removeprefix("exec_start: ")) for a in actions)

        wait_for(rebuilding, timeout=600, interval=0.05, what="the chain's cache-rebuild there")
        masters = sh("pkill", "-9", "-e", "-f", rf"laravel-stack-{NAME}-.*\[mux\]", check=False)
        out, _ = proc.communicate(timeout=900)
    assert "killed" in masters.stdout, masters
    assert proc.returncode != 0, out[-3000:]
    # One line names the server and the cause, with what to do.
    lines = [x for x in out.splitlines() if "the SSH connection to" in x]
    assert lines and server["REMOTE_ADDRESS"] in lines[0] and "pulumi up" in lines[0], out[-3000:]
    assert "goroutine " not in out, out[-3000:]
    assert served_build(server) == old
    assert load.failures(old) == {} and writer.failed == 0, (load.builds, writer.failed)
    assert set(writer.acked) <= rows(server)
    # The next `up` opens a new shared connection by itself (the dead one's socket is stale).
    with Load(rate=20, base=rbase) as after:
        remote.up()
    new = served_build(server)
    assert new != old and after.failures(old, new) == {}, after.builds
    FIGURES["ssh dropped during cache-rebuild"] = {
        "failed requests": 0, "failed writes": 0, "acknowledged": len(writer.acked),
        "missing rows": 0, "recovery": "up", "line": lines[0].strip()[:200],
    }  # fmt: skip


def test_a_full_disk_during_the_pull_fails_before_any_change_and_up_recovers(
    remote, server, deployed
):
    # The release ships a 24 MiB asset (random: the layer does not compress); the server's disk
    # has 4 MiB left when `up` starts, so its pull of the new build runs out of space.
    old, before = served_build(server), containers_fingerprint(server)
    asset = remote.project / "examples/laravel-app/resources/big-asset.bin"
    asset.write_bytes(os.urandom(24 << 20))
    remote.set("image.build_args.APP_CODE_VERSION", "disk-full")
    disk = server["REMOTE_DISK"]
    filler = f"{disk}/filler"
    stat = os.statvfs(disk)
    sh("fallocate", "-l", str(stat.f_bavail * stat.f_frsize - (4 << 20)), filler)
    rbase = base(server)
    try:
        with Load(rate=20, base=rbase) as load, Writer(base=rbase) as writer:
            res = remote.up(check=False)
    finally:
        os.unlink(filler)
    text = res.stdout + res.stderr
    assert res.returncode != 0, text[-3000:]
    # The `pull` step's one line: the build and the engine's own reason (the provider's pull
    # would drop it from the progress stream), no Go stack.
    pulled = re.search(
        r"laravel-stack: the deploy engine could not pull 127\.0\.0\.1:5001/\S+@sha256:"
        r"[0-9a-f]{64}: .*no space left on device",
        text,
    )
    assert pulled, text[-3000:]
    assert containers_fingerprint(server).split() == before.split()  # nothing changed
    assert "goroutine " not in text and "panic:" not in text, text[-3000:]
    assert served_build(server) == old
    assert load.failures(old) == {}, load.builds
    assert set(writer.acked) <= rows(server)
    # Space freed: the same build again, nothing half-pulled in the way.
    t0 = time.monotonic()
    with Load(rate=20, base=rbase) as after:
        remote.up()
    new = served_build(server)
    assert new != old and after.failures(old, new) == {}, after.builds
    remote.run("preview", "--expect-no-changes")
    FIGURES["disk full during the pull"] = {
        "failed requests": 0, "failed writes": writer.failed, "acknowledged": len(writer.acked),
        "missing rows": 0, "recovery": "free space, up",
        "up after s": round(time.monotonic() - t0, 1),
        "error": next((x.strip()[:200] for x in text.splitlines() if "find or pull" in x), ""),
    }  # fmt: skip


def containers_fingerprint(server: dict[str, str]) -> str:
    return rdocker(server, "ps", "-a", "--filter", f"label=laravel-stack.stack={NAME}",
                   "--format", "{{.ID}} {{.State}}")  # fmt: skip


@pytest.mark.parametrize(
    ("setting", "value", "cause"),
    [
        ("docker.known_hosts[0]", "{addr} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoq",
         "the server's host key does not match docker.known_hosts"),
        ("docker.host", "ssh://intruder@{addr}", "login refused for intruder"),
        ("docker.host", "ssh://nodocker@{addr}", "nodocker may not use Docker there"),
    ],
)  # fmt: skip
def test_a_bad_ssh_setup_fails_before_any_change_with_one_line(
    remote, server, deployed, setting, value, cause
):
    before = containers_fingerprint(server)
    good = remote.run("config", "get", "--path", setting).stdout.strip()
    remote.set(setting, value.format(addr=server["REMOTE_ADDRESS"]))
    try:
        res = remote.up(check=False)
    finally:
        remote.set(setting, good)
    assert res.returncode != 0
    text = res.stdout + res.stderr
    lines = [line for line in text.splitlines() if cause in line]
    assert lines, text[-3000:]
    assert "ssh://" in lines[0] and server["REMOTE_ADDRESS"] in lines[0]
    assert containers_fingerprint(server).split() == before.split()  # nothing changed
    remote.run("preview", "--expect-no-changes")


def test_destroy_leaves_the_existing_network_and_the_data(remote, server, deployed):
    remote.run("destroy", "--yes")
    assert rdocker(server, "ps", "-aq", "--filter", f"label=laravel-stack.stack={NAME}") == ""
    assert NETWORK in rdocker(server, "network", "ls", "--format", "{{.Name}}").split()
    assert f"{NAME}-db-data" in rdocker(server, "volume", "ls", "--format", "{{.Name}}").split()
    assert local_containers() == []
