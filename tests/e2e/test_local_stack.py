"""The local stack, deployed for real: scenarios run in order against one stack.

Evidence of what happened comes from the Docker engine (events with its own timestamps) and
from inside the containers, never from Pulumi's account of its own ordering.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conformance import normalize_state, preview_ops
from .plans import check_plan, config_file
from .support.engine import docker_cleanup, engine_restart_recovers, stack_container_states
from .support.events import (
    OPCACHE_RESET,
    EngineEvents,
    assert_chain_in_order,
    release_events,
    steps_seen,
)
from .support.http import http, wait_for
from .support.load import Load
from .support.local import LOCAL_BASE, NAME, STACK
from .support.pulumi import Pulumi
from .support.shell import sh

CONTAINER = "docker:index/container:Container"
# plain values of Pulumi.local.yaml's secrets
SECRETS = ["local-db-password", "local-root-password", "local-registry-password"]


def container_states() -> dict[str, tuple[str, str]]:
    out = sh("docker", "ps", "-a", "--filter", f"label=laravel-stack.stack={NAME}",
             "--format", "{{.Names}}\t{{.State}}\t{{.Status}}").stdout  # fmt: skip
    return {n: (s, st) for n, s, st in (line.split("\t") for line in out.splitlines())}


def containers_of(role: str) -> list[str]:
    out = sh("docker", "ps", "-a", "--filter", f"label=laravel-stack.stack={NAME}",
             "--filter", f"label=laravel-stack.role={role}",
             "--format", "{{.Names}}").stdout  # fmt: skip
    return out.split()


def app() -> str:
    """The one app container (auto-named: a new name for every release)."""
    names = containers_of("app")
    assert len(names) == 1, names
    return names[0]


def env_of(container: str) -> dict[str, str]:
    env = json.loads(sh("docker", "inspect", "--format", "{{json .Config.Env}}", container).stdout)
    return dict(e.split("=", 1) for e in env)


def db_rows(table: str = "visits") -> int:
    """Count rows straight from MySQL, independent of the app (its password from its own env)."""
    query = f"SELECT COUNT(*) FROM laravel.{table}"
    out = sh("docker", "exec", f"{NAME}-mysql", "sh", "-c",
             'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -N -e "$1"', "count", query).stdout  # fmt: skip
    return int(out.strip())


def served_build() -> str:
    status, body = http("/up")
    assert status == 200, body
    return body["build"]


@pytest.fixture(scope="module")
def deployed(pulumi: Pulumi) -> dict:
    with EngineEvents() as events:
        res = pulumi.up()
    return {"up": res, "events": release_events(events.lines), "outputs": pulumi.outputs()}


def test_up_from_scratch_serves_the_deployed_build(deployed):
    out = deployed["outputs"]

    def all_running():
        states = container_states()
        roles = {r: containers_of(r) for r in ["app", "web", "mysql", "queue", "scheduler"]}
        return all(roles.values()) and all(s == "running" for s, _ in states.values())

    # queue:restart (a chain step) makes workers exit; they come back at once.
    wait_for(all_running, 30, what="every container running")
    # The app's own Docker health check (a FastCGI request through FPM) and MySQL's. The app's
    # first probe comes one interval (10 s) after its start, which `up` does not wait for.
    wait_for(lambda: "(healthy)" in container_states()[app()][1], 30, what="the app healthy")
    assert "(healthy)" in container_states()[f"{NAME}-mysql"][1]
    assert served_build() == out["image"]
    assert out["image"].split("@")[1] == out["build_id"]
    assert app().startswith(f"{NAME}-app-")  # auto-named: a new name for every release
    assert out["health_url"] == f"http://127.0.0.1:{18080}/up"
    # The image came through the registry that needs a login: anonymous access is refused.
    assert out["image"].startswith("127.0.0.1:5001/")
    tags = f"http://127.0.0.1:5001/v2/laravel-stack/{STACK}/tags/list"
    anonymous = sh("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", tags).stdout
    assert anonymous == "401"
    assert "healthy: http://" in out["release"]


def test_every_app_container_runs_the_digest(deployed):
    digest_ref = deployed["outputs"]["image"]
    image_id = sh("docker", "image", "inspect", "--format", "{{.Id}}", digest_ref).stdout.strip()
    for name in [app(), *containers_of("queue"), f"{NAME}-scheduler"]:
        assert sh("docker", "inspect", "--format", "{{.Image}}", name).stdout.strip() == image_id
        assert env_of(name)["APP_BUILD"] == digest_ref


def test_database_write_and_read(deployed):
    status, body = http("/db")
    assert status == 200 and body["count"] >= 1, body
    status, again = http("/db/count")
    assert status == 200 and again["count"] == body["count"]


def test_database_is_not_published_and_internal_only(deployed):
    ports = sh("docker", "port", f"{NAME}-mysql", check=False).stdout.strip()
    assert ports == ""
    nets = json.loads(sh("docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}",
                         f"{NAME}-mysql").stdout)  # fmt: skip
    assert list(nets) == [f"{NAME}-internal"]


def test_storage_link_serves_a_file(deployed):
    status, body = http("/storage/hello.txt")
    assert status == 200 and "hello from storage" in str(body)


def test_queue_job_runs_on_a_worker_of_the_deployed_build(deployed):
    build = deployed["outputs"]["image"]
    status, body = http("/queue")
    assert status == 202, body
    token = body["token"]

    def ran():
        _, runs = http("/queue/runs")
        return next((r for r in runs["runs"] if r["token"] == token), None)

    run = wait_for(ran, 60, what="the queued job to run")
    assert run["worker_build"] == build, run


def test_release_chain_ran_in_order_inside_the_app_container(deployed):
    assert_chain_in_order(deployed["events"])


def test_state_after_up_is_what_the_upstream_plugins_record(pulumi, deployed, vectors):
    vectors.check("state after up", normalize_state(pulumi.state(), str(pulumi.project)))


def test_second_up_is_a_no_op(pulumi, deployed, vectors):
    preview = pulumi.preview("--expect-no-changes")
    vectors.check("preview: no change", preview_ops(preview))
    check_plan(pulumi, "no-change", preview, config_file(pulumi).read_text(), 0)
    with EngineEvents() as events:
        pulumi.up("--expect-no-changes")
    assert steps_seen(release_events(events.lines)) == [], "the chain re-ran without a change"


def change_code(pulumi: Pulumi, version: str) -> None:
    pulumi.set("image.build_args.APP_CODE_VERSION", version)


@pytest.mark.engine_alone  # restarts this machine's engine
def test_after_an_engine_restart_the_site_comes_back_by_itself(pulumi, deployed):
    # A host reboot or a docker.io upgrade: no `pulumi` command runs. (A later test, a code
    # change under 20 req/s with 0 failed requests, is the release after it.)
    build = served_build()
    seconds = engine_restart_recovers(False, http, build, NAME)
    print(f"engine restart: {build} served again after {seconds:.1f}s")
    pulumi.run("preview", "--expect-no-changes")


def test_scheduler_heartbeat(deployed):
    # Here, not right after the deploy: the scheduler starts before `migrate` creates its table,
    # so its first beat is a minute tick (or its start after the engine restart just before).
    def beat():
        _, body = http("/heartbeat")
        return body if body["count"] >= 1 else None

    body = wait_for(beat, 90, interval=2, what="a scheduler heartbeat")
    assert body["last"]["build"] == deployed["outputs"]["image"]


def test_a_refresh_keeps_a_stopped_app_container_and_the_next_up_starts_it(
    pulumi, deployed, vectors
):
    # The docker provider's own behaviour (kreuzwerker's Read): a stopped container stays in the
    # state with mustRun false, which the next plan turns into an update that starts it.
    build, stopped = served_build(), app()
    sh("docker", "stop", stopped)
    pulumi.run("refresh", "--yes")
    state = normalize_state(pulumi.state(), str(pulumi.project))
    vectors.check("state after a refresh of a stopped app container", state)
    [app_state] = [v for k, v in state.items() if k.startswith(f"{CONTAINER}::{NAME}-app")]
    assert app_state["outputs"]["mustRun"] is False, app_state["outputs"]
    ops = preview_ops(pulumi.preview())
    vectors.check("preview: after a refresh of a stopped app container", ops)
    assert [op for _, op in ops] == ["update"] and ops[0][0].startswith(f"{CONTAINER}::"), ops
    pulumi.up()
    assert app() == stopped and stack_container_states(NAME)[stopped] == "running"

    def serves() -> bool:
        status, body = http("/up")
        return status == 200 and isinstance(body, dict) and body.get("build") == build

    wait_for(serves, 60, what="the started container serving its build")
    pulumi.run("preview", "--expect-no-changes")


def test_a_front_proxy_removed_by_hand_comes_back_serving_the_live_build(pulumi, deployed):
    # A recreated nginx (removed here; a changed web.port, web.nginx_image or its config the
    # same) starts pointing nowhere: its new id re-runs `switch` and `verify`, no release.
    build, running = served_build(), app()
    old = sh("docker", "inspect", "-f", "{{.Id}}", f"{NAME}-web").stdout.strip()
    sh("docker", "rm", "-f", f"{NAME}-web")
    pulumi.up("--refresh")
    assert sh("docker", "inspect", "-f", "{{.Id}}", f"{NAME}-web").stdout.strip() != old
    for _ in range(5):  # at once: `up` returned after the switch and its check
        assert served_build() == build
    assert app() == running and upstream_of_proxy() == running
    pulumi.run("preview", "--expect-no-changes")


def test_code_change_is_blue_green_with_no_failed_and_no_stale_response(pulumi, deployed, vectors):
    old, old_app = served_build(), app()
    config_before = config_file(pulumi).read_text()
    change_code(pulumi, "v2")
    preview = pulumi.preview()
    vectors.check("preview: code change", preview_ops(preview))
    check_plan(pulumi, "code-change", preview, config_before, 0)
    ops = {(s["urn"].split("::")[-1], s["op"]) for s in preview["steps"]}
    assert ("app", "replace") in ops or ("app", "update") in ops, ops  # image and app container
    chain = {name for name, op in ops if op in ("replace", "create-replacement")}
    assert {"ownership", "cache-clear", "opcache-reset", "cache-rebuild", "health",
            "switch", "verify"} <= chain, ops  # fmt: skip

    t0 = time.time()
    with EngineEvents() as recorded, Load(rate=20) as load:
        pulumi.up()
    new = pulumi.outputs()["image"]
    assert new != old
    failures = load.failures(old, new)
    assert failures == {}, f"failed requests during the release: {failures}"
    assert load.builds[new] > 0
    # After `up` returned: only the new build answers.
    for _ in range(20):
        assert served_build() == new
    assert http("/up")[1]["code"] == "v2"
    # The engine's record: chain in order against the NEW container, switch, then the old
    # container is stopped and removed only after the public check.
    events = release_events(recorded.lines)
    seen = [s for _, s in steps_seen(events)]
    order = ["cache-clear", "opcache-reset", "cache-rebuild", "health", "switch", "verify"]
    assert [seen.index(s) for s in order] == sorted(seen.index(s) for s in order), seen
    new_app = app()
    assert new_app != old_app
    reloads = [c for _, c, what in events if OPCACHE_RESET.search(what)]
    assert reloads and all(c == new_app for c in reloads), reloads
    # Never through the engine's kill: that marks a container as stopped by hand (issue 18).
    assert not [e for e in events if e[2].startswith("kill signal=12")], events
    verified = max(ts for ts, step in steps_seen(events) if step == "verify")
    gone = [ts for ts, c, what in events if c == old_app and what.startswith("destroy")]
    assert gone and gone[0] > verified, "the old container went before the public check"
    mtime = int(sh("docker", "exec", new_app, "stat", "-c", "%Y",
                   "/var/www/html/bootstrap/cache/config.php").stdout)  # fmt: skip
    assert mtime >= int(t0)


def live_asset() -> str:
    """The hashed asset the live build's pages ask for (its Vite manifest, as @vite reads it)."""
    status, manifest = http("/build/manifest.json")
    assert status == 200, manifest
    return "/build/" + manifest["resources/js/app.js"]["file"]


def test_pages_of_the_build_before_keep_their_assets_until_the_next_release(pulumi, deployed):
    page = live_asset()  # what a page of build N, open in a browser, asks for
    code = http("/up")[1]["code"]
    change_code(pulumi, "v2.1")
    pulumi.up()
    # N+1 is live and lacks N's file: served from N's public/, N+1's own from its own.
    assert live_asset() != page
    assert http(page) == (200, f'console.log("laravel-stack example {code}");\n')
    assert http(live_asset())[0] == 200
    page_1 = live_asset()
    change_code(pulumi, "v2.2")
    pulumi.up()
    # N+2 lacks it and so does the build it replaced: the app answers 404. Only the build a
    # switch replaced is a fallback, and the volume keeps only those two builds' files.
    assert http(page)[0] == 404
    assert http(page_1) == (200, 'console.log("laravel-stack example v2.1");\n')
    kept = sh("docker", "exec", f"{NAME}-web", "ls", "/var/www/html/public/releases").stdout
    assert len(kept.split()) == 2, kept


def test_config_change_previews_plan_what_the_upstream_plugins_plan(pulumi, deployed, vectors):
    config_before = config_file(pulumi).read_text()
    pulumi.set("web.php_ini.memory_limit", "256M")
    preview = pulumi.preview()
    vectors.check("preview: php.ini change", preview_ops(preview))
    check_plan(pulumi, "php-ini-change", preview, config_before, 0)
    pulumi.rm("web.php_ini")
    # A new database volume name replaces the volume and the database container: a danger
    # that fails the check, unless the override label is given.
    pulumi.set("database.volume", f"{NAME}-db-moved")
    preview = pulumi.preview()
    check_plan(pulumi, "database-volume-replaced", preview, config_before, 1)
    check_plan(pulumi, "database-volume-replaced-override", preview, config_before, 0, "--override")
    pulumi.rm("database.volume")
    pulumi.set("queue.replicas", "2")
    vectors.check("preview: queue replicas 1 -> 2", preview_ops(pulumi.preview()))
    pulumi.rm("queue.replicas")
    pulumi.run("preview", "--expect-no-changes")


def test_a_policy_violation_stops_up_before_any_change(pulumi, deployed):
    resources = pulumi.state()["deployment"]["resources"]
    pulumi.set("app.debug", "true")  # with APP_ENV=production: the guardrails refuse it
    try:
        with EngineEvents() as recorded:
            # With its preview (as the deploy workflow runs it): mandatory policies are checked
            # on the whole plan before the first step.
            res = pulumi.run("up", "--yes", "--diff", check=False)
    finally:
        pulumi.rm("app.debug")
    assert res.returncode != 0
    assert "[mandatory]  no-debug-in-production" in res.stdout, res.stdout[-4000:]
    lifecycle = [
        (e["Action"], e["Actor"]["Attributes"].get("name"))
        for e in map(json.loads, recorded.lines)
        if e.get("Type") in ("container", "volume", "network")
        and not e["Action"].startswith(("exec_", "health_status"))
    ]
    assert lifecycle == [], f"the engine saw changes: {lifecycle}"
    assert pulumi.state()["deployment"]["resources"] == resources


def test_incident_without_opcache_reset_the_new_build_is_stale_and_never_gets_traffic(
    pulumi, deployed
):
    http("/db")
    rows_before = db_rows()
    live = served_build()
    pulumi.set("release.skip[0]", "opcache-reset")
    pulumi.set("health.retries", "5")
    # The image bakes a config cache at build time (like `RUN php artisan optimize`): FPM
    # compiles it on its first requests, before the chain replaces it.
    pulumi.set("image.build_args.BAKE_CONFIG_CACHE", "1")
    # Something must hit FPM before the chain runs (here `up` waits for the container's Docker
    # health check, as with web.wait_healthy; in production: any early request).
    pulumi.set("web.wait_healthy", "true")
    change_code(pulumi, "v3")
    with Load() as load:
        res = pulumi.up(check=False)
    assert res.returncode != 0
    text = res.stdout + res.stderr
    assert "health check failed: the served code is not the deployed build" in text, text[-4000:]
    # The new container, asked directly, serves the stale baked config...
    apps = containers_of("app")
    assert len(apps) == 2, apps  # old and new side by side: nothing was switched or removed
    new_app = next(a for a in apps if env_of(a)["APP_BUILD"] != live)
    direct = json.loads(sh("docker", "exec", new_app, "app-healthcheck").stdout.splitlines()[-1])
    assert direct["build"] != env_of(new_app)["APP_BUILD"], "stale OPcache did not reproduce"
    # ...while users never left the old build, and nothing was lost.
    assert set(load.builds) == {live}, load.builds
    assert served_build() == live
    assert db_rows() == rows_before
    # Turned back on: the same release goes out fresh.
    pulumi.rm("release.skip")
    pulumi.rm("web.wait_healthy")
    pulumi.up()
    assert served_build() == env_of(app())["APP_BUILD"] == pulumi.outputs()["image"]
    assert http("/db/count")[1]["count"] == rows_before


def broken_migration(pulumi: Pulumi) -> Path:
    """A developer's bug: a migration that fails (it runs before the switch)."""
    bad = pulumi.project / "examples/laravel-app/database/migrations/2099_01_01_000000_boom.php"
    bad.write_text(
        "<?php\nuse Illuminate\\Database\\Migrations\\Migration;\n"
        "return new class extends Migration {\n"
        "    public function up() { throw new RuntimeException('boom: broken migration'); }\n"
        "};\n"
    )
    return bad


def test_a_failing_release_keeps_the_old_build_serving_and_rolling_back_works(
    pulumi, deployed, vectors
):
    live = served_build()
    # A developer's bug: a migration that fails. It runs before the switch.
    bad = broken_migration(pulumi)
    vectors.check("preview: failing release", preview_ops(pulumi.preview()))
    with Load(rate=20) as load:
        res = pulumi.up(check=False)
    assert res.returncode != 0
    assert "boom: broken migration" in res.stdout + res.stderr
    state = normalize_state(pulumi.state(), str(pulumi.project))
    vectors.check("state after a failed release", state)
    assert set(load.builds) == {live}, load.builds  # every request answered by the old build
    assert served_build() == live
    # Rolling back = `pulumi up` on the previous code.
    bad.unlink()
    with Load(rate=20) as rollback:
        pulumi.up()
    assert served_build() == live == pulumi.outputs()["image"]
    assert containers_of("app") == [app()]
    assert set(rollback.builds) == {live}, rollback.builds  # no failed request while rolling back


MAINTENANCE_SECRET = "local-maintenance-bypass-0123456789"
IN_MAINTENANCE = "HTTP 503 Retry-After: 15"


#: a page of the app that maintenance covers (the example app keeps /up reachable in it, as
#: Laravel 11's health route is: PreventRequestsDuringMaintenance's $except)
COVERED = "/db/count"


class Recorder:
    """A page as users get it (COVERED, for every request the load makes), in order: the build,
    IN_MAINTENANCE for the app's 503 page with its Retry-After, anything else as it came; on the
    first 503, the bypass once (the secret's path sets the cookie, a request with it gets the
    app)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.bypass: tuple[int, Any] | None = None

    def get(self, _path: str) -> tuple[int, Any]:
        req = urllib.request.Request(LOCAL_BASE + COVERED, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                status, body = resp.status, json.loads(resp.read())
                self.seen.append(body.get("build", "?"))
                return status, body
        except urllib.error.HTTPError as err:
            page = err.read().decode()
            if err.code == 503 and "We are updating the site" in page:
                outcome = f"HTTP 503 Retry-After: {err.headers.get('Retry-After')}"
                if self.bypass is None:
                    self.bypass = self.bypass_once()
            else:
                outcome = f"HTTP {err.code}"
            self.seen.append(outcome)
            return 200, {"build": outcome}

    @staticmethod
    def bypass_once() -> tuple[int, Any]:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(f"{LOCAL_BASE}/{MAINTENANCE_SECRET}", timeout=5)
            return 0, "no redirect"
        except urllib.error.HTTPError as err:
            sets = err.headers.get_all("Set-Cookie") or []
            cookie = next((c.split(";", 1)[0] for c in sets if c.startswith("laravel_maint")), "")
        headers = {"Accept": "application/json", "Cookie": cookie}
        req = urllib.request.Request(LOCAL_BASE + COVERED, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, cookie


def test_maintenance_mode_serves_the_503_page_between_down_and_up(pulumi, deployed):
    old = served_build()
    pulumi.set("release.maintenance", "true")
    pulumi.run("config", "set", "--secret", "--path", "release.maintenance_secret",
               MAINTENANCE_SECRET)  # fmt: skip
    change_code(pulumi, "v8")
    rec = Recorder()
    with Load(rate=20, get=rec.get):
        res = pulumi.up()
    new = pulumi.outputs()["image"]
    # In order: the old build, then only the 503 page with Retry-After, then the new build.
    phases = [k for i, k in enumerate(rec.seen) if i == 0 or rec.seen[i - 1] != k]
    assert phases == [old, IN_MAINTENANCE, new], phases
    assert rec.bypass is not None and rec.bypass[0] == 200, rec.bypass
    assert rec.bypass[1]["build"] in (old, new), rec.bypass  # the app, behind the 503 page
    for _ in range(10):
        assert served_build() == new
    assert MAINTENANCE_SECRET not in res.stdout + res.stderr + pulumi.run("stack", "export").stdout
    # A failing migration in maintenance: `up` fails, the site is up again on the old build.
    bad = broken_migration(pulumi)
    try:
        failing = Recorder()
        with Load(rate=20, get=failing.get):
            res = pulumi.up(check=False)
    finally:
        bad.unlink()
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "boom: broken migration" in out, out[-3000:]
    assert "maintenance lifted, the build that served before serves again" in out, out[-3000:]
    assert set(failing.seen) <= {new, IN_MAINTENANCE}, set(failing.seen)
    assert failing.seen[-1] == new
    for _ in range(10):
        assert served_build() == new
    pulumi.rm("release.maintenance")
    pulumi.rm("release.maintenance_secret")
    pulumi.up()  # converges: the failed release's container goes
    assert containers_of("app") == [app()] and served_build() == pulumi.outputs()["image"]


def upstream_of_proxy() -> str:
    """The app container the proxy passes requests to."""
    conf = sh("docker", "exec", f"{NAME}-web", "cat", "/etc/nginx/laravel-stack/upstream.conf")
    [line] = [x for x in conf.stdout.splitlines() if x.startswith("set $app_upstream ")]
    return line.split()[-1].rstrip(";").rsplit(":", 1)[0]


@pytest.mark.engine_alone  # restarts this machine's engine
def test_a_failed_verify_switches_back_and_a_removed_file_is_never_served_again(pulumi, deployed):
    # A build that ships a static public/up: the direct FastCGI check passes, nginx serves the
    # file before PHP, so the public check (`verify`, after the switch) fails.
    old, old_app = served_build(), app()
    static = pulumi.project / "examples/laravel-app/public/up"
    static.write_text('{"build": "static"}\n')
    pulumi.set("health.retries", "3")
    with Load(rate=20) as load:
        res = pulumi.up(check=False)
    out = res.stdout + res.stderr
    assert res.returncode != 0, res.stdout[-3000:]
    assert "health check failed" in out, out[-3000:]
    assert f"switched back to {old} ({old_app})" in out, out[-3000:]
    # The failing command is one short line; the probe's own cause follows it at once.
    lines = out.splitlines()
    running = [i for i, line in enumerate(lines) if 'running "' in line]
    assert running and all(len(lines[i]) < 400 for i in running), [lines[i] for i in running]
    # (the verdict: an answer without the build header, and what answered: the static file; the
    # stand-ins pass on nginx's reload notice and a blank line first)
    cause = lines[running[0] : running[0] + 9]
    assert any("static" in line for line in cause), lines[running[0] :]
    # During the release: the old build, or the new one's static file; nothing failed.
    assert load.failures(old, "static") == {}, load.builds
    # After it: the old build only, through the public entry point.
    for _ in range(20):
        assert served_build() == old
    assert upstream_of_proxy() == old_app
    assert len(containers_of("app")) == 2  # the failed build's container is still there
    # An engine restart now (issue 18): the old build comes back, the proxy names a running one.
    engine_restart_recovers(False, http, old, NAME)
    assert upstream_of_proxy() in stack_container_states(NAME), upstream_of_proxy()
    assert [stack_container_states(NAME)[c] for c in containers_of("app")] == ["running"] * 2
    # The next build no longer has the file: its release passes verify (the file of the failed
    # build is not in what nginx serves for it), and a second `up` is a no-op.
    static.unlink()
    change_code(pulumi, "v6")  # a new build (without it, the build before the failed one)
    pulumi.set("health.retries", "30")  # as Pulumi.local.yaml has it
    with Load(rate=20) as fixed:
        pulumi.up()
    new = pulumi.outputs()["image"]
    assert served_build() == new != old
    assert fixed.failures(old, new) == {}, fixed.builds
    assert containers_of("app") == [app()] and upstream_of_proxy() == app()
    assert http("/up")[1]["build"] == new  # not the failed build's static file
    pulumi.run("preview", "--expect-no-changes")


def test_secrets_never_appear_in_state_outputs_or_logs(pulumi, deployed):
    exported = pulumi.run("stack", "export").stdout
    outputs = pulumi.run("stack", "output", "--json").stdout
    logs = deployed["up"].stdout + deployed["up"].stderr
    for secret in SECRETS:
        assert secret not in exported
        assert secret not in outputs
        assert secret not in logs
    assert '"secure"' in exported or "ciphertext" in exported


def test_destroy_removes_containers_and_network_but_keeps_the_database(pulumi, deployed):
    pulumi.run("destroy", "--yes")
    assert container_states() == {}
    nets = sh("docker", "network", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{NAME}-internal" not in nets
    vols = sh("docker", "volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{NAME}-db-data" in vols
    # Up again on the retained volume: the rows are still there.
    pulumi.up()
    assert http("/db/count")[1]["count"] >= 1
    pulumi.run("destroy", "--yes")
    docker_cleanup()
