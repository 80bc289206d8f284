"""Laravel 10 on PHP 8.4: the release chain on the framework and PHP that users run.

`examples/laravel10-app` is the example app's skeleton on Laravel 10.48 and PHP 8.4 from
Debian trixie's packages (`php-laravel-framework`, `php8.4-fpm`), built like a user's image:
Debian's stock FPM pool plus README's documented lines. Deployed from scratch, it passes the
image contract, runs the field notes' production php.ini (OPcache without timestamp checks, the
tracing JIT with its 100M buffer, as the FPM worker reports it), releases a code change under
20 req/s with no failed and no stale response, and a failing migration keeps the old build.

Stack `e2e-l10`, prefix `lsl10`, port 18086, its own repository, on this machine's engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from .conftest import (
    EngineEvents,
    Load,
    Pulumi,
    assert_chain_in_order,
    docker_cleanup,
    http,
    new_project,
    release_events,
    sh,
)

STACK = "e2e-l10"
NAME = "lsl10"
PORT = 18086
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="module")
def l10(tmp_path_factory) -> Iterator[Pulumi]:
    sh("docker", "info")
    docker_cleanup(NAME)
    p = new_project(tmp_path_factory, STACK)
    p.set("name", NAME)
    p.set("web.port", str(PORT))
    p.set("image.context", "examples/laravel10-app")
    yield p
    p.run("destroy", "--yes", check=False)
    docker_cleanup(NAME)


def served(path: str = "/up") -> tuple[int, dict]:
    status, body = http(path, base=BASE)
    assert isinstance(body, dict), (status, body)
    return status, body


@pytest.fixture(scope="module")
def deployed(l10: Pulumi) -> dict:
    with EngineEvents(name=NAME) as recorded:
        t0 = time.monotonic()
        l10.up()
        took = time.monotonic() - t0
    print(f"laravel 10: up from scratch {took:.1f}s")
    return {"events": release_events(recorded.lines)}


def test_up_from_scratch_on_laravel_10_and_php_8_4(l10, deployed):
    status, body = served()
    assert status == 200 and body["build"] == l10.outputs()["image"], body
    assert body["laravel"].startswith("10.48."), body
    assert body["php"].startswith("8.4."), body
    assert body["config_cached"] and body["routes_cached"], body
    # Every step, the image contract first, in order, in the new container.
    assert_chain_in_order(deployed["events"])
    assert "healthy: http://" in l10.outputs()["release"]


def test_the_production_php_ini_runs_the_jit_in_the_fpm_workers(l10, deployed):
    status, body = served("/opcache")
    assert status == 200 and body["sapi"] == "fpm-fcgi", body
    assert body["enabled"] is True and body["validate_timestamps"] == "0", body
    jit = body["jit"]
    # PHP 8.4 really runs the tracing JIT with the field notes' 100M buffer (PHP reports it less
    # its own alignment: 100M - 16 bytes on this machine).
    assert (jit["mode"], jit["enabled"], jit["on"]) == ("tracing", True, True), jit
    assert 100 * 2**20 - 4096 <= jit["buffer_size"] <= 100 * 2**20, jit


def test_code_change_under_load_has_no_failed_and_no_stale_response(l10, deployed):
    old = l10.outputs()["image"]
    l10.set("image.build_args.APP_CODE_VERSION", "v2")
    with Load(rate=20, base=BASE) as load:
        t0 = time.monotonic()
        l10.up()
        took = time.monotonic() - t0
    new = l10.outputs()["image"]
    assert new != old
    assert load.failures(old, new) == {}, f"failed requests during the release: {load.builds}"
    print(f"laravel 10: code change {took:.1f}s under 20 req/s: {dict(load.builds)}")
    for _ in range(20):  # after `up`: the new build only
        status, body = served()
        assert status == 200 and body["build"] == new and body["code"] == "v2", body


def test_a_failing_migration_keeps_the_old_build(l10, deployed):
    live = l10.outputs()["image"]
    bad = l10.project / "examples/laravel10-app/database/migrations/2099_01_01_000000_boom.php"
    bad.write_text(
        "<?php\nuse Illuminate\\Database\\Migrations\\Migration;\n"
        "return new class extends Migration {\n"
        "    public function up(): void { throw new RuntimeException('boom: broken migration'); }\n"
        "};\n"
    )
    l10.set("image.build_args.APP_CODE_VERSION", "v3")
    try:
        with Load(rate=20, base=BASE) as load:
            res = l10.up(check=False)
    finally:
        bad.unlink()
    assert res.returncode != 0 and "boom: broken migration" in res.stdout + res.stderr
    assert set(load.builds) == {live}, load.builds
    assert served()[1]["build"] == live
