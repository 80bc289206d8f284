"""Laravel 10 on PHP 8.4: the release chain on the framework and PHP that users run.

`examples/laravel10-app` is the example app's skeleton on Laravel 10.48 and PHP 8.4 from
Debian trixie's packages (`php-laravel-framework`, `php8.4-fpm`), built like a user's image:
Debian's stock FPM pool plus README's documented lines. Deployed from scratch, it passes the
image contract, runs the field notes' production php.ini (OPcache without timestamp checks, the
tracing JIT with its 100M buffer, as the FPM worker reports it), releases a code change under
20 req/s with no failed and no stale response, and a failing migration keeps the old build.

The same stack carries your own release steps (release.hooks, one at each point) and the
notifications (release.notify: a Slack-format and a JSON receiver on 127.0.0.1, their URLs
Pulumi secrets): each hook's exec is in its place in the engine's events; a failing
before-switch hook stops the release with the old build serving; every release outcome is
posted once to each receiver; a receiver that hangs or is down costs at most the timeout; the
URLs are nowhere in the state export, the outputs or the logs.

Stack `e2e-l10`, prefix `lsl10`, port 18086, its own repository, on this machine's engine.
"""

from __future__ import annotations

import getpass
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import yaml

from .support.engine import docker_cleanup
from .support.events import EngineEvents, assert_chain_in_order, release_events, steps_seen
from .support.http import http
from .support.load import Load
from .support.pulumi import Pulumi, new_project
from .support.shell import sh

STACK = "e2e-l10"
NAME = "lsl10"
PORT = 18086
BASE = f"http://127.0.0.1:{PORT}"


#: the webhooks' secret part: it must never show anywhere but in the receiver's request line
TOKEN = secrets.token_hex(16)
HOOKS = {
    "after_ownership": [{"name": "env", "run": ["php", "artisan", "env"]}],
    "before_switch": [{"name": "warm", "script": "/var/www/html/deploy/warm.sh", "timeout": 60}],
    "after_verify": [{"name": "queue-restart", "run": ["php", "artisan", "queue:restart"]}],
}


class Receiver(BaseHTTPRequestHandler):
    """Records every post (path, time, JSON body); `hang` seconds before it answers."""

    posts: ClassVar[list[dict[str, Any]]] = []
    hang: ClassVar[float] = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).posts.append({"path": self.path, "at": time.monotonic(), "body": body})
        time.sleep(type(self).hang)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def posts(fmt: str) -> list[dict[str, Any]]:
    return [p["body"] for p in Receiver.posts if p["path"] == f"/{fmt}/{TOKEN}"]


@pytest.fixture(scope="module")
def l10(tmp_path_factory, receiver) -> Iterator[Pulumi]:
    sh("docker", "info")
    docker_cleanup(NAME)
    p = new_project(tmp_path_factory, STACK)
    p.set("name", NAME)
    p.set("web.port", str(PORT))
    p.set("image.context", "examples/laravel10-app")
    # The hooks and the webhooks' formats in the stack file; the URLs as secrets.
    stack_file = p.project / f"Pulumi.{STACK}.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["laravel-stack:release"] = {
        "hooks": HOOKS,
        "notify": [{"format": "slack"}, {"format": "json"}],
        "notify_timeout": 3,
    }
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    port = receiver.server_address[1]
    for i, fmt in enumerate(("slack", "json")):
        url = f"http://127.0.0.1:{port}/{fmt}/{TOKEN}"
        p.run("config", "set", "--secret", "--path", f"release.notify[{i}].url", url)
    yield p
    p.run("destroy", "--yes", check=False)
    docker_cleanup(NAME)


#: every `pulumi` run's output of this suite: the webhook URLs must be in none of it
LOGS: list[str] = []


def up(p: Pulumi, check: bool = True) -> Any:
    res = p.up(check=check)
    LOGS.append(res.stdout + res.stderr)
    return res


def served(path: str = "/up") -> tuple[int, dict]:
    status, body = http(path, base=BASE)
    assert isinstance(body, dict), (status, body)
    return status, body


@pytest.fixture(scope="module")
def deployed(l10: Pulumi) -> dict:
    with EngineEvents(name=NAME) as recorded:
        t0 = time.monotonic()
        up(l10)
        took = time.monotonic() - t0
    print(f"laravel 10: up from scratch {took:.1f}s")
    return {"events": release_events(recorded.lines), "app": l10.outputs()["containers"]["app"]}


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
        up(l10)
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
            res = up(l10, check=False)
    finally:
        bad.unlink()
    assert res.returncode != 0 and "boom: broken migration" in res.stdout + res.stderr
    assert set(load.builds) == {live}, load.builds
    assert served()[1]["build"] == live


# --- hooks and notifications ----------------------------------------------------------------

HOOK_EXEC = "php /usr/local/lib/laravel-stack/hook.php "


def test_each_hook_runs_in_its_place_as_the_web_user(l10, deployed):
    events = deployed["events"]
    hooks = [(ts, cmd.split()[2]) for ts, _, cmd in events if cmd.startswith(HOOK_EXEC)]
    assert [name for _, name in hooks] == ["env", "warm", "queue-restart"], hooks
    first: dict[str, int] = {}
    for ts, step in steps_seen(events):
        first.setdefault(step, ts)
    at = dict((name, ts) for ts, name in hooks)
    # after ownership and before migrate; after health and before switch; after verify
    assert first["ownership"] < at["env"] < first["migrate"]
    assert first["health"] < at["warm"] < first["switch"]
    assert first["verify"] < at["queue-restart"]
    # each in the new app container (the one the proxy then named), as the web user
    assert {c for _, c, cmd in events if cmd.startswith(HOOK_EXEC)} == {deployed["app"]}
    state = l10.state()["deployment"]["resources"]
    warm = next(r for r in state if r["urn"].endswith("::hook-before-switch-warm"))
    out = warm["outputs"]["stdout"]
    assert "as www-data" in out and "warm: ok" in out, out
    # the script printed the database password: the step's output has [secret] in its place
    assert "(database password: [secret])" in out, out


def test_every_release_is_posted_once_to_each_receiver_in_its_format(l10, deployed):
    # so far: up from scratch and the code change succeeded, the failing migration failed
    outcomes = [e["outcome"] for e in posts("json")]
    assert outcomes == ["succeeded", "succeeded", "failed"], outcomes
    assert len(posts("slack")) == 3
    ok, failed = posts("json")[1], posts("json")[2]
    assert ok["schema"] == "laravel-stack.release/1"
    assert ok["stack"] == f"laravel-stack/{STACK}" and ok["build"] == posts("json")[1]["build"]
    assert ok["previous"] == posts("json")[0]["build"] != ok["build"]
    assert ok["receipt"].startswith("healthy: http://") and ok["duration_s"] > 0
    assert ok["by"] == f"{getpass.getuser()}@{socket.gethostname()}"
    assert failed["failed_step"] == "migrate" and failed["previous"] == ok["build"]
    assert any("boom: broken migration" in line for line in failed["last_lines"]), failed
    # a failure names its build by digest (the tag is the last step's: see README)
    assert ok["tag"] and failed["tag"] == "" and failed["digest"] == failed["build"].split("@")[1]
    slack = posts("slack")[2]["text"]
    assert "failed at `migrate`" in slack and "boom: broken migration" in slack, slack


def test_a_failing_before_switch_hook_stops_the_release_on_the_old_build(l10, deployed):
    live = l10.outputs()["image"]
    fail = l10.project / "examples/laravel10-app/deploy/FAIL"
    fail.write_text("the search index is not ready")
    l10.set("image.build_args.APP_CODE_VERSION", "v4")
    try:
        with Load(rate=20, base=BASE) as load:
            res = up(l10, check=False)
    finally:
        fail.unlink()
    text = res.stdout + res.stderr
    assert res.returncode != 0
    tail = text[-4000:]
    # the failing command names the hook, its cause follows, then hook.php's verdict
    assert 'running "docker --host unix:///var/run/docker.sock exec --user www-data' in text, tail
    assert "hook.php warm 60 /var/www/html -- /var/www/html/deploy/warm.sh" in text, tail
    # (the hook's stdout and stderr reach the step's output through two pipes: the stdout line
    # may come between them, so only their order is certain)
    cause, verdict = "warm: the search index is not ready\n", "hook: warm: failed with exit code 7"
    assert cause in text and verdict in text, tail
    assert text.index(cause) < text.index(verdict), tail
    assert load.failures(live) == {}, load.builds
    assert set(load.builds) == {live}, load.builds
    assert served()[1]["build"] == live
    [post] = posts("json")[3:]
    assert post["outcome"] == "failed" and post["failed_step"] == "hook-before-switch-warm"
    assert post["previous"] == live


def test_a_receiver_that_hangs_or_is_down_changes_no_outcome(l10, deployed, receiver):
    # The JSON receiver hangs past the timeout (3 s); the Slack one's URL is repointed at a
    # port nobody listens on (the config change alone re-runs nothing of the chain).
    Receiver.hang = 30
    down = f"http://127.0.0.1:9/slack/{TOKEN}"
    l10.run("config", "set", "--secret", "--path", "release.notify[0].url", down)
    l10.set("image.build_args.APP_CODE_VERSION", "v5")
    try:
        res = up(l10)
        returned = time.monotonic()
    finally:
        Receiver.hang = 0
    assert res.returncode == 0
    [post] = [p for p in Receiver.posts if p["path"] == f"/json/{TOKEN}"][5 - 1 :]
    # the post arrived, then the chain waited at most the timeout (and the step's own end)
    waited = returned - post["at"]
    print(f"hooks: up returned {waited:.1f}s after the hanging receiver got the post")
    assert waited < 3 + 15, waited
    assert post["body"]["outcome"] == "succeeded"
    resources = l10.state()["deployment"]["resources"]
    retention = next(r for r in resources if r["urn"].endswith("Command::retention"))
    stderr = retention["outputs"]["stderr"]
    assert "notify: webhook 2 (json): no answer within 3 s" in stderr, stderr
    assert "notify: webhook 1 (slack): failed: ConnectionRefusedError" in stderr, stderr
    assert served()[1]["code"] == "v5"


def test_the_history_shows_failed_releases_with_who_and_how_long(l10, deployed):
    out = l10.outputs()
    history = out["history"]
    assert [e["outcome"] for e in history[:4]] == ["succeeded", "failed", "failed", "succeeded"]
    assert [e["failed_step"] for e in history[1:3]] == ["hook-before-switch-warm", "migrate"]
    assert all(e["by"] and e["duration_s"] is not None for e in history), history
    newest = out["releases"][0]
    assert newest["build"] == out["image"] and newest["outcome"] == "succeeded"
    assert newest["by"] == history[0]["by"] and newest["duration_s"] == history[0]["duration_s"]


def test_the_webhook_urls_are_nowhere_in_the_state_the_outputs_or_the_logs(l10, deployed):
    export = l10.run("stack", "export").stdout
    assert TOKEN not in export
    assert TOKEN not in l10.run("stack", "output", "--json").stdout
    assert TOKEN not in l10.run("stack", "output", "--json", "--show-secrets").stdout
    assert TOKEN not in "".join(LOGS)
    assert LOGS and all("notify" not in log or TOKEN not in log for log in LOGS)
    preview = l10.run("preview", "--diff")
    assert TOKEN not in preview.stdout + preview.stderr
    # the config holds it encrypted (and the engine, root only: notify.json in the volume)
    assert TOKEN not in (l10.project / f"Pulumi.{STACK}.yaml").read_text()
