"""Laravel 13 on PHP 8.4: the slim skeleton that new apps start from, deployed first try.

`examples/laravel13-app` holds only what Laravel 13 changes (bootstrap/app.php with the
built-in `health: '/up'`, no HTTP or console kernel, routes, a slim config/app.php with the one
line the stack needs, the Vite frontend built by a node stage); the rest is the example app's
shared source (built with `examples/` as its context). Debian unstable's `php-laravel-framework`
13.31 and `php8.4-fpm` with README's documented lines, the app logging to stderr.

The stack proves the build with its own header (health.build_from `header`, the default): the
FPM worker that answers the app's own `/up` names `config('app.build')`. Deployed from scratch:
the chain in order, the production php.ini in the FPM worker, Vite's hashed assets through
nginx, a job dispatched through the app run by a queue worker of the build, the scheduler's
beat. Then a code change under 20 req/s (0 failed, 0 stale after `up`), a release hook in its
place, a build whose `/up` answers 500 (`up` fails in a few lines: the status, what the app
said, its log line; the old build keeps serving), a failing migration that keeps the old build,
a release in maintenance mode (Laravel 13's `down`, the bypass cookie), and a release across a
major version (13 -> 10: the receipt warns, naming the keys to pin).

Stack `e2e-l13`, prefix `lsl13`, port 18092, its own repository, on this machine's engine.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .support.engine import docker_cleanup
from .support.events import EngineEvents, assert_chain_in_order, release_events, steps_seen
from .support.http import http, wait_for
from .support.load import Load
from .support.pulumi import Pulumi, new_project
from .support.shell import sh

STACK = "e2e-l13"
NAME = "lsl13"
PORT = 18092
BASE = f"http://127.0.0.1:{PORT}"
BUILD_HEADER = "X-Laravel-Stack-Build"
MAINTENANCE_SECRET = "l13-maintenance-bypass-0123456789"
HOOKS = {"before_switch": [{"name": "warm", "script": "/var/www/html/deploy/warm.sh"}]}
#: the CAs this machine adds to the system's (Debian's update-ca-certificates)
EXTRA_CA = Path("/usr/local/share/ca-certificates")


@pytest.fixture(scope="module")
def l13(tmp_path_factory) -> Iterator[Pulumi]:
    sh("docker", "info")
    docker_cleanup(NAME)
    p = new_project(tmp_path_factory, STACK)
    p.set("name", NAME)
    p.set("web.port", str(PORT))
    # The shared app source and this version's parts: the context is examples/.
    p.set("image.context", "examples")
    p.set("image.dockerfile", "laravel13-app/Dockerfile")
    stack_file = p.project / f"Pulumi.{STACK}.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["laravel-stack:release"] = {"hooks": HOOKS}
    # A machine whose TLS goes through an inspecting proxy (this one) gives npm its CA, which
    # only the image's node stage sees (examples/laravel13-app/Dockerfile).
    extra_ca = "".join(c.read_text() for c in sorted(EXTRA_CA.glob("*.crt")))
    if extra_ca:
        doc["config"]["laravel-stack:image"]["build_args"]["NODE_EXTRA_CA_PEM"] = extra_ca
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    yield p
    p.run("destroy", "--yes", check=False)
    docker_cleanup(NAME)


def up_get(path: str = "/up", timeout: float = 5) -> tuple[int, dict[str, Any]]:
    """A request as users send it: the status and the build the stack's header names (the
    app's own /up answers HTML)."""
    req = urllib.request.Request(BASE + path)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {"build": resp.headers.get(BUILD_HEADER), "body": resp.read()}
    except urllib.error.HTTPError as err:
        return err.code, {"build": err.headers.get(BUILD_HEADER), "body": err.read()}


def served_build() -> str:
    status, got = up_get()
    assert status == 200 and got["build"], (status, got)
    return str(got["build"])


def change_code(p: Pulumi, version: str) -> None:
    p.set("image.build_args.APP_CODE_VERSION", version)


@pytest.fixture(scope="module")
def deployed(l13: Pulumi) -> dict:
    with EngineEvents(name=NAME) as recorded:
        t0 = time.monotonic()
        l13.up()
        took = time.monotonic() - t0
    print(f"laravel 13: up from scratch {took:.1f}s")
    return {"events": release_events(recorded.lines), "outputs": l13.outputs()}


def test_up_from_scratch_on_laravel_13_with_its_own_health_route(l13, deployed):
    build = deployed["outputs"]["image"]
    status, got = up_get()
    # Laravel's built-in health page, and the build the FPM worker that served it holds
    assert status == 200 and got["build"] == build, got
    assert b"Application up" in got["body"], got["body"][:300]
    # only the health path carries the build
    assert up_get("/")[1]["build"] is None
    status, info = http("/opcache", base=BASE)
    assert status == 200 and info["sapi"] == "fpm-fcgi", info
    assert info["laravel"].startswith("13.31."), info
    assert info["php"].startswith("8.4."), info
    assert_chain_in_order(deployed["events"])
    assert deployed["outputs"]["release"].startswith(f"healthy: http://{NAME}-web:80/up HTTP 200")


def test_the_production_php_ini_as_the_fpm_worker_reports_it(deployed):
    status, body = http("/opcache", base=BASE)
    assert status == 200 and body["enabled"] is True and body["validate_timestamps"] == "0", body
    jit = body["jit"]
    assert (jit["mode"], jit["enabled"], jit["on"]) == ("tracing", True, True), jit
    assert 100 * 2**20 - 4096 <= jit["buffer_size"] <= 100 * 2**20, jit


def test_vites_hashed_assets_are_served_from_the_builds_public(deployed):
    status, page = http("/", base=BASE)
    assert status == 200, page
    assets = re.findall(r"/build/assets/[\w.-]+\.(?:js|css)", str(page))
    assert any(a.endswith(".js") for a in assets), str(page)[:800]
    for asset in assets:
        status, body = http(asset, base=BASE)
        assert status == 200 and body, asset


def test_a_job_dispatched_through_the_app_runs_on_a_worker_of_the_build(deployed):
    build = deployed["outputs"]["image"]
    status, body = http("/queue", base=BASE)
    assert status == 202, body

    def ran():
        _, runs = http("/queue/runs", base=BASE)
        return next((r for r in runs["runs"] if r["token"] == body["token"]), None)

    run = wait_for(ran, 60, what="the queued job to run")
    assert run["worker_build"] == build, run


def test_code_change_under_load_has_no_failed_and_no_stale_response(l13, deployed):
    old = served_build()
    change_code(l13, "v2")
    with EngineEvents(name=NAME) as recorded, Load(rate=20, base=BASE, get=up_get) as load:
        t0 = time.monotonic()
        l13.up()
        took = time.monotonic() - t0
    new = l13.outputs()["image"]
    assert new != old
    assert load.failures(old, new) == {}, f"failed requests during the release: {load.builds}"
    print(f"laravel 13: code change {took:.1f}s under 20 req/s: {dict(load.builds)}")
    for _ in range(20):  # after `up`: the new build only
        assert served_build() == new
    assert http("/opcache", base=BASE)[1]["code"] == "v2"
    # the release hook ran in its place: after health, before the switch
    events = release_events(recorded.lines)
    hook = "php /usr/local/lib/laravel-stack/hook.php warm "
    warm = [ts for ts, _, cmd in events if cmd.startswith(hook)]
    first: dict[str, int] = {}
    for ts, step in steps_seen(events):
        first.setdefault(step, ts)
    assert warm and first["health"] < warm[0] < first["switch"], (warm, first)


def test_the_scheduler_ticks_on_the_build(l13, deployed):
    def beat():
        _, body = http("/heartbeat", base=BASE)
        return body if body["count"] >= 1 else None

    body = wait_for(beat, 90, interval=2, what="a scheduler heartbeat")
    assert body["last"]["build"] in (deployed["outputs"]["image"], l13.outputs()["image"])


def test_a_build_whose_health_route_answers_500_fails_up_saying_why(l13, deployed):
    live = served_build()
    # This build's health listener throws (DiagnosingHealth): Laravel's /up answers 500.
    change_code(l13, "unhealthy")
    l13.set("health.retries", "3")
    with Load(rate=20, base=BASE, get=up_get) as load:
        res = l13.up(check=False)
    l13.rm("health.retries")
    assert res.returncode != 0
    text = res.stdout + res.stderr
    start = text.index("attempt 1/3: ")
    step = text[text.rindex("\n", 0, start) + 1 :].split("\n")
    step = step[: next(i for i, line in enumerate(step) if "log| " in line) + 1]
    print("laravel 13: the failed health step:\n" + "\n".join(step))
    lines = text[start:].splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("health check failed"))
    assert lines[at].startswith("health check failed: the app answered HTTP 500, not 200"), lines
    assert any("attempts" in line or "the same" in line for line in lines[:at]), lines[:at]
    said = [line for line in lines[at + 1 : at + 5] if line.startswith("  | ")]
    assert said, lines[at : at + 6]
    logged = [line for line in lines if line.startswith("  log| ")]
    assert any("the health check of this build fails on purpose" in line for line in logged), lines[
        : at + 12
    ]
    # the whole step's output, from the first attempt to the last log line: at most 15 lines
    end = max(i for i, line in enumerate(lines) if line.startswith("  log| "))
    assert end + 1 <= 15, lines[: end + 1]
    assert "the served code is not the deployed build" not in text
    assert set(load.builds) == {live}, load.builds
    assert served_build() == live


def test_a_failing_migration_keeps_the_old_build(l13, deployed):
    live = served_build()
    bad = l13.project / "examples/laravel13-app/database/migrations/2099_01_01_000000_boom.php"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(
        "<?php\nuse Illuminate\\Database\\Migrations\\Migration;\n"
        "return new class extends Migration {\n"
        "    public function up(): void { throw new RuntimeException('boom: broken migration'); }\n"
        "};\n"
    )
    change_code(l13, "v3")
    try:
        with Load(rate=20, base=BASE, get=up_get) as load:
            res = l13.up(check=False)
    finally:
        bad.unlink()
    assert res.returncode != 0 and "boom: broken migration" in res.stdout + res.stderr
    assert set(load.builds) == {live}, load.builds
    assert served_build() == live


def maintenance_get(_path: str) -> tuple[int, dict[str, Any]]:
    """A page that maintenance covers, as a browser gets it: the build the app names, or the
    app's 503 page (its text) with its Retry-After."""
    try:
        with urllib.request.urlopen(BASE + "/db/count", timeout=2) as resp:
            return resp.status, {"build": json.loads(resp.read()).get("build", "?")}
    except urllib.error.HTTPError as err:
        page = err.read().decode(errors="replace")
        if err.code == 503 and "We are updating the site" in page:
            return 200, {"build": f"HTTP 503 Retry-After: {err.headers.get('Retry-After')}"}
        return 200, {"build": f"HTTP {err.code}"}


def test_a_release_in_maintenance_mode_serves_laravel_13s_503_page(l13, deployed):
    old = http("/db/count", base=BASE)[1]["build"]
    l13.set("release.maintenance", "true")
    l13.run("config", "set", "--secret", "--path", "release.maintenance_secret", MAINTENANCE_SECRET)
    change_code(l13, "v4")
    seen: list[str] = []

    def get(path: str) -> tuple[int, dict[str, Any]]:
        status, body = maintenance_get(path)
        seen.append(body["build"])
        return status, body

    with Load(rate=20, base=BASE, get=get):
        l13.up()
    new = l13.outputs()["image"]
    # In order: the old build, then only the app's 503 page with Retry-After, then the new build.
    phases = [k for i, k in enumerate(seen) if i == 0 or seen[i - 1] != k]
    assert phases == [old, "HTTP 503 Retry-After: 15", new], phases
    # the release's own checks went through with Laravel 13's bypass cookie
    assert served_build() == new
    l13.rm("release.maintenance")
    l13.rm("release.maintenance_secret")


def test_a_release_across_a_major_version_warns_naming_the_keys_to_pin(l13, deployed):
    # The Laravel 10 example (its own route answers JSON too; the header proves it all the same)
    l13.set("image.context", "examples/laravel10-app")
    l13.set("image.dockerfile", "Dockerfile")
    l13.rm("release.hooks")
    l13.up()
    receipt = l13.outputs()["release"]
    assert "warning: Laravel 13 -> 10: pin CACHE_PREFIX, REDIS_PREFIX and SESSION_COOKIE" in (
        receipt
    ), receipt
    status, body = http("/up", base=BASE)
    assert status == 200 and body["laravel"].startswith("10.48."), body
    assert served_build() == l13.outputs()["image"]
    history = json.dumps(l13.outputs()["history"][0])
    assert "Laravel 13 -> 10" in history, history
