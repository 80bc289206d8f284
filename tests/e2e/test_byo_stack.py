"""Bring your own app: an image shaped like a user's, deployed next to the example.

`examples/laravel-app/Dockerfile.debian` builds the same app from Debian's packages the way a
user would: Debian's stock PHP-FPM pool, no tini, no HEALTHCHECK. Without the documented lines
(`CONTRACT_LINES=0`) the chain's `contract` step names each missing piece before any traffic;
with them the app deploys, releases under load without a failed request, and the old scheduler
(no init in the image) stops at once because the stack runs it under Docker's init.

Stack `e2e-byo`, prefix `lsbyo`, port 18082, on this machine's engine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from components import commands

from .support.engine import docker_cleanup
from .support.events import EngineEvents, release_events, steps_seen
from .support.http import http
from .support.load import Load
from .support.pulumi import Pulumi, new_project
from .support.shell import sh

STACK = "e2e-byo"
NAME = "lsbyo"
PORT = 18082
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="module")
def byo(tmp_path_factory) -> Iterator[Pulumi]:
    sh("docker", "info")
    docker_cleanup(NAME)
    p = new_project(tmp_path_factory, STACK)
    p.set("name", NAME)
    p.set("web.port", str(PORT))
    p.set("image.repository", "127.0.0.1:5001/laravel-stack/byo-app")
    p.set("image.dockerfile", "Dockerfile.debian")
    p.set("image.build_args.CONTRACT_LINES", "0")  # Debian's stock shape first
    yield p
    p.run("destroy", "--yes", check=False)
    docker_cleanup(NAME)


def served(path: str = "/up") -> tuple[int, object]:
    return http(path, base=BASE)


def test_the_contract_names_each_missing_piece_before_any_traffic(byo):
    with EngineEvents(name=NAME) as recorded:
        res = byo.up(check=False)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    lines = [line for line in out.splitlines() if line.startswith("image contract: ")]
    for missing in (
        "PHP-FPM does not listen on TCP port 9000",
        "clear_env = yes: set `clear_env = no`",
        "set `process_control_timeout = 30s`",
        "catch_workers_output = no: set `catch_workers_output = yes`",
    ):
        assert any(missing in line for line in lines), (missing, lines, out[-3000:])
    assert "image contract: 4 problem(s) above; the release stops before any traffic" in lines
    # Nothing after the contract ran, and the proxy never got an upstream.
    assert [s for _, s in steps_seen(release_events(recorded.lines))] == ["contract"]
    status, _ = served()
    assert status == 502


def test_with_the_documented_lines_it_deploys_and_serves_its_build(byo):
    byo.set("image.build_args.CONTRACT_LINES", "1")
    byo.up()
    status, body = served()
    assert status == 200, body
    assert isinstance(body, dict) and body["build"] == byo.outputs()["image"]


def test_release_under_load_and_the_old_scheduler_stops_at_once(byo):
    old = byo.outputs()["image"]
    byo.set("image.build_args.APP_CODE_VERSION", "v2")
    with EngineEvents(name=NAME) as recorded, Load(rate=20, base=BASE) as load:
        t0 = time.monotonic()
        byo.up()
        took = time.monotonic() - t0
    new = byo.outputs()["image"]
    print(f"laravel 8: code change {took:.1f}s under 20 req/s: {dict(load.builds)}")
    assert new != old
    failures = load.failures(old, new)
    assert failures == {}, f"failed requests during the release: {failures}"
    assert served()[1]["build"] == new  # type: ignore[index]
    # The old scheduler (`artisan schedule:work`, PID 1 of an image without init) got SIGTERM
    # and was gone within two seconds: no SIGKILL after destroy_grace_seconds.
    events = [json.loads(line) for line in recorded.lines]
    sched = [
        (int(e["timeNano"]), e["Action"], e["Actor"]["Attributes"].get("signal", ""))
        for e in events
        if e.get("Type") == "container"
        and e["Actor"]["Attributes"].get("name") == f"{NAME}-scheduler"
        and e["Action"] in ("kill", "die")
    ]
    term = [ts for ts, action, sig in sched if action == "kill" and sig == "15"]
    died = [ts for ts, action, _ in sched if action == "die"]
    assert term and died, sched
    assert not [s for _, a, s in sched if a == "kill" and s == "9"], f"SIGKILLed: {sched}"
    assert (died[0] - term[0]) / 1e9 < 2, f"the old scheduler took {(died[0] - term[0]) / 1e9}s"
    init = sh("docker", "inspect", "--format", "{{.HostConfig.Init}}", f"{NAME}-scheduler")
    assert init.stdout.strip() == "true"


def test_the_health_probe_warns_when_the_response_sets_a_cookie(byo):
    """The stack's probe (the Docker health check's argv) against a route in the web group,
    which starts a session, and against the session-free /up."""
    role = [
        "--filter",
        f"label=laravel-stack.stack={NAME}",
        "--filter",
        "label=laravel-stack.role=app",
    ]
    app = sh("docker", "ps", *role, "--format", "{{.Names}}").stdout.split()
    assert len(app) == 1, app

    def probe(path: str) -> str:
        argv = commands.app_health_test(
            f"fcgi://127.0.0.1:9000{path}",
            expected_status=200,
            build_field="session",  # /stores has no build field: any value passes (build "")
            timeout=5,
            script="/var/www/html/public/index.php",
        )[1:]  # without "CMD"
        return sh("docker", "exec", app[0], *argv).stdout

    warned = probe("/stores")
    assert "warning: the health response sets a cookie (" in warned, warned
    assert "laravel_session" in warned.split("warning:")[1], warned
    assert "warning" not in probe("/up")
