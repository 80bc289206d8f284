"""Your own release steps (release.hooks), the outcome of every release posted to
release.notify, and the release history on the deploy engine."""

from __future__ import annotations

import http.server
import json
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import guardrails as g
import pytest

from components import commands
from components.config import ConfigError, parse
from components.engine.release import chain
from tools import release_plan as rp

from ..commands.test_commands import KNOWN
from ..config.test_config import with_
from ..harness import SECRET_KEYS, run_program

ROOT = Path(__file__).resolve().parents[3]
URL = "https://hooks.slack.example/services/T000/B000/very-secret-token"
HOOKS = {
    "after_ownership": [{"name": "storage-link", "run": ["php", "artisan", "storage:link"]}],
    "before_switch": [
        {"name": "scout", "run": ["php", "artisan", "scout:import", "App\\Models\\Post"],
         "timeout": 600},
        {"name": "warm", "script": "/var/www/html/deploy/warm.sh"},
    ],
    "after_verify": [
        {"name": "horizon", "run": ["php", "artisan", "horizon:terminate"]},
        {"name": "cdn", "script": "/usr/local/bin/purge", "as_root": True,
         "reason": "the CDN token file is readable by root only"},
    ],
}  # fmt: skip


def hooked(**release: Any) -> dict[str, Any]:
    return with_("release", {"hooks": HOOKS, **release})


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(raw, SECRET_KEYS)
    return err.value.problems


# --- config ----------------------------------------------------------------------------------


def test_hooks_take_their_place_in_the_chain():
    names = [s.name for s in chain(parse(hooked(), SECRET_KEYS))]
    assert names == [
        "contract", "ownership", "hook-after-ownership-storage-link", "backup", "migrate",
        "cache-clear", "opcache-reset", "cache-rebuild", "workers-restart", "health",
        "hook-before-switch-scout", "hook-before-switch-warm", "switch", "verify",
        "hook-after-verify-horizon", "hook-after-verify-cdn", "public-prune", "retention",
    ]  # fmt: skip
    # after maintenance-up when the release is in maintenance: the site is up on the new build
    m = parse(hooked(maintenance=True, maintenance_secret="s" * 20), SECRET_KEYS)
    names = [s.name for s in chain(m)]
    assert names.index("maintenance-up") < names.index("hook-after-verify-horizon")
    assert names.index("maintenance-down") < names.index("hook-before-switch-scout")


@pytest.mark.parametrize(
    "hook, says",
    [
        ({"name": "x"}, "give exactly one of run (an argv list) or script (a path)"),
        ({"name": "x", "run": ["a"], "script": "/b"}, "give exactly one of run"),
        ({"name": "x", "run": []}, "run: an empty argv"),
        ({"name": "x", "script": "deploy.sh"}, "String should match pattern"),
        ({"name": "x", "run": ["a"], "as_root": True}, "as_root: true needs a reason"),
        ({"name": "x", "run": ["a"], "reason": "because of"}, "reason: only with as_root"),
        ({"name": "X Y", "run": ["a"]}, "String should match pattern"),
        ({"name": "x", "run": ["a"], "timeout": 0}, "greater than or equal to 1"),
    ],
)
def test_a_bad_hook_names_its_key_path(hook, says):
    [problem] = problems(with_("release", {"hooks": {"before_switch": [hook]}}))
    assert problem.startswith("release.hooks.before_switch[0]"), problem
    assert says in problem


def test_hook_names_are_unique_and_points_are_named():
    twice = {"after_ownership": [{"name": "a", "run": ["x"]}],
             "after_verify": [{"name": "a", "run": ["y"]}]}  # fmt: skip
    assert problems(with_("release", {"hooks": twice})) == [
        "release.hooks: hook names must be unique: a"
    ]
    assert problems(with_("release", {"hooks": {"after_switch": []}})) == [
        "release.hooks.after_switch: unknown key"
    ]


def test_a_webhook_url_must_be_a_secret_and_is_never_echoed():
    raw = with_("release", {"notify": [{"url": URL, "format": "slack"}]})
    with pytest.raises(ConfigError) as err:
        parse(raw, [k for k in SECRET_KEYS if k != "release"])
    assert err.value.problems == [
        "release.notify[0].url: given in plain text; set it with "
        "`pulumi config set --secret --path release.notify[0].url <value>`"
    ]
    [bad] = problems(with_("release", {"notify": [{"url": "ftp://x/very-secret-token"}]}))
    assert bad.startswith("release.notify[0].url: must be an http:// or https:// URL")
    assert "very-secret-token" not in bad
    [fmt] = problems(with_("release", {"notify": [{"url": URL, "format": "teams"}]}))
    assert fmt.startswith("release.notify[0].format: Input should be 'slack' or 'json'")


# --- the steps -------------------------------------------------------------------------------


def hook_words(run: Any, name: str) -> list[str]:
    return shlex.split(run.line(run.one("command:local:Command", name)))


def test_a_hook_runs_in_the_new_app_container_as_the_web_user_through_hook_php():
    run = run_program(hooked())
    scout = hook_words(run, "hook-before-switch-scout")
    i = scout.index("exec")
    assert scout[i : i + 3] == ["exec", "--user", "www-data"]
    assert scout[i + 3].startswith("shop-app-")
    assert scout[i + 4 :] == [
        "php", "/usr/local/lib/laravel-stack/hook.php", "scout", "600", "/var/www/html", "--",
        "php", "artisan", "scout:import", "App\\Models\\Post",
    ]  # fmt: skip
    cdn = hook_words(run, "hook-after-verify-cdn")
    assert cdn[cdn.index("exec") + 2] == "0"
    assert "--as-root" in cdn and cdn[cdn.index("--as-root") + 1].startswith("the CDN token")
    # after verify: only while the proxy serves this build, else (and on failure) switch back
    line = run.line(run.one("command:local:Command", "hook-after-verify-horizon"))
    assert "proxy_switch.sh is" in line and "release_switch.sh" in line
    # every step depends on the one before it, hooks too
    deps = run.by_urn(run.one("command:local:Command", "switch").urn).dependencies
    assert any(d.endswith("::hook-before-switch-warm") for d in deps), deps
    # hook.php is in every app container
    app = run.one("container:Container", "shop-app")
    uploads = {u["file"] for u in run.value(app, "uploads")}
    assert "/usr/local/lib/laravel-stack/hook.php" in uploads


def test_a_before_switch_hook_in_maintenance_lifts_it_when_it_fails():
    run = run_program(hooked(maintenance=True, maintenance_secret="s" * 20))
    line = run.line(run.one("command:local:Command", "hook-before-switch-scout"))
    assert commands.LIFTED in line
    early = run.line(run.one("command:local:Command", "hook-after-ownership-storage-link"))
    assert commands.LIFTED not in early


def test_the_webhook_url_is_in_no_plain_input_output_or_command():
    run = run_program(hooked(notify=[{"url": URL, "format": "slack"}, {"url": URL + "2"}]))
    config = run.one("command:local:Command", "notify-config")
    assert config.inputs["stdin"] != run.value(config, "stdin")  # sent as a secret
    stdin = json.loads(run.value(config, "stdin"))
    assert stdin == {"timeout": 10, "webhooks": [{"format": "slack", "url": URL},
                                                 {"format": "json", "url": URL + "2"}]}  # fmt: skip
    for reg in run.registrations:
        for key, value in reg.inputs.items():
            if reg is config and key == "stdin":
                continue
            assert "very-secret-token" not in json.dumps(value), (reg.name, key)
    assert "very-secret-token" not in json.dumps(run.outputs)
    # the first step waits for the webhooks to be on the engine
    deps = run.by_urn(run.one("command:local:Command", "contract").urn).dependencies
    assert config.urn in deps


def test_every_step_reports_its_failure_and_the_last_one_the_release():
    run = run_program(hooked())
    steps = [r for r in run.of_type("command:local:Command")
             if r.name not in ("notify-config", "public-init", "pull")]  # fmt: skip
    contexts = {r.name: run.context(r) for r in steps}
    assert [n for n, c in contexts.items() if c.get("final")] == ["retention"]
    migrate = contexts["migrate"]
    assert migrate["step"] == "migrate" and migrate["stack"] == "laravel-stack/test"
    assert migrate["build"] == run.outputs["image"] and "tag" not in migrate
    assert contexts["retention"]["tag"] == "2026.11.25-1"
    assert "previous" not in migrate  # before the switch: the engine knows what serves
    assert "previous" in contexts["public-prune"]  # after it: the build switched from
    assert contexts["retention"]["receipt"] == run.outputs["release"] != ""
    record = migrate["record"]
    assert record["argv"][:6] == ["sh", "-s", "--", "unix:///var/run/docker.sock", "event",
                                  "shop-releases"]  # fmt: skip
    assert record["script"] == "components/scripts/releases.sh" and not record["ssh"]


# --- release_step.py, run for real -----------------------------------------------------------


class Receiver(http.server.BaseHTTPRequestHandler):
    posts: ClassVar[list[dict[str, Any]]] = []
    delay = 0.0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.delay)
        type(self).posts.append({"path": self.path, "body": json.loads(body)})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver():
    Receiver.posts, Receiver.delay = [], 0.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def step(tmp_path: Path, line: str, hooks: list[dict[str, str]], timeout: int = 2,
         **ctx: Any) -> subprocess.CompletedProcess[str]:  # fmt: skip
    # The engine side, as releases.sh answers: the event it recorded, then notify.json.
    fake = tmp_path / "releases.sh"
    notify = json.dumps({"timeout": timeout, "webhooks": hooks})
    fake.write_text(f'printf "%s\\n" "$6" >> {tmp_path}/history.jsonl\n'
                    f'printf "%s\\n" "$6"\nprintf "%s\\n" {shlex.quote(notify)}\n')  # fmt: skip
    context = {"stack": "laravel-stack/prod", "step": "migrate", "build": "r@sha256:" + "b" * 64,
               "tag": "v2", "record": {"argv": ["sh", "-s", "--", "", "event", "v", "i", "p"],
                                       "script": str(fake), "ssh": False}, **ctx}  # fmt: skip
    argv = [*commands.release_interpreter(context), line]
    argv[1] = str(ROOT / argv[1])
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "LARAVEL_STACK_GIT_COMMIT": "c0ffee",
                               "LARAVEL_STACK_DEPLOYED_BY": "ci run 7"})  # fmt: skip


def test_a_failing_step_keeps_its_exit_code_and_output_and_posts_both_formats(tmp_path, receiver):
    hooks = [{"url": receiver + "/slack/very-secret-token", "format": "slack"},
             {"url": receiver + "/json", "format": "json"}]  # fmt: skip
    done = step(tmp_path, "echo migrating; echo 'SQLSTATE[42S01]: exists' >&2; exit 3", hooks)
    assert done.returncode == 3
    assert done.stdout.startswith("migrating\n")
    assert done.stderr.startswith("SQLSTATE[42S01]: exists\n")
    assert "release: failed recorded in the deploy engine's history" in done.stderr
    assert "notify: webhook 1 (slack): HTTP 200" in done.stderr
    assert "very-secret-token" not in done.stdout + done.stderr
    by = {p["path"]: p["body"] for p in Receiver.posts}
    ev = by["/json"]
    assert ev["schema"] == "laravel-stack.release/1" and ev["outcome"] == "failed"
    assert ev["failed_step"] == "migrate" and ev["stack"] == "laravel-stack/prod"
    # both pipes' lines; their order across the two pipes is the threads' (not defined)
    assert sorted(ev["last_lines"]) == ["SQLSTATE[42S01]: exists", "migrating"]
    assert ev["digest"] == "sha256:" + "b" * 64 and ev["tag"] == "v2"
    assert ev["commit"] == "c0ffee" and ev["by"] == "ci run 7"
    assert {"started", "finished", "duration_s", "previous", "receipt"} - ev.keys() == {"previous"}
    assert "failed at `migrate`" in by["/slack/very-secret-token"]["text"]
    recorded = (tmp_path / "history.jsonl").read_text().splitlines()
    assert [json.loads(x)["outcome"] for x in recorded] == ["failed"]


def test_the_cause_stays_in_the_last_lines_when_a_stack_trace_follows_it(tmp_path, receiver):
    # A failing `migrate` on Laravel 10 with LOG_CHANNEL=stderr: the cause in a box on stdout,
    # the log's 26-frame trace on stderr, read by another thread (here: written after the box).
    box = [
        "   INFO  Running migrations.",
        "  2099_01_01_000000_boom .... 0ms FAIL",
        "",
        "In 2099_01_01_000000_boom.php line 4:",
        "",
        "  boom: broken migration  ",
        "",
    ]
    trace = ["[2026-12-05 05:42:05] production.ERROR: boom: broken migration {\"exception\":\"",
             "[stacktrace]",
             *[f"#{i} /usr/share/php/Illuminate/Database/Migrations/Migrator.php({i + 100}): "
               "Illuminate\\Database\\Migrations\\Migrator->runUp()" for i in range(25)],
             "#25 {main}", '"} ']  # fmt: skip
    script = tmp_path / "out.sh"
    out, err = (" ".join(map(shlex.quote, lines)) for lines in (box, trace))
    script.write_text(f"printf '%s\\n' {out}\nsleep 0.3\nprintf '%s\\n' {err} >&2\nexit 1\n")
    done = step(tmp_path, f"sh {script}", [{"url": receiver + "/json", "format": "json"}])
    assert done.returncode == 1
    assert done.stderr.count("Migrator.php(") == 25  # the step's own output keeps every frame
    [post] = Receiver.posts
    lines = post["body"]["last_lines"]
    assert "  boom: broken migration  " in lines, lines
    assert lines[-1].startswith("[2026-12-05 05:42:05] production.ERROR: boom"), lines
    assert not [x for x in lines if x.startswith(("#", "[stacktrace]", '"}'))], lines


def test_a_passing_step_posts_nothing_but_the_last_one_posts_the_release(tmp_path, receiver):
    hooks = [{"url": receiver + "/json", "format": "json"}]
    quiet = step(tmp_path, "echo ok", hooks)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "ok\n", "")
    assert Receiver.posts == []
    last = step(tmp_path, "echo kept", hooks, final=True, receipt="healthy: x", previous="r@a")
    assert last.returncode == 0
    assert last.stdout.startswith("kept\nevent: {")
    [post] = Receiver.posts
    assert post["body"]["outcome"] == "succeeded" and post["body"]["receipt"] == "healthy: x"
    assert post["body"]["previous"] == "r@a" and post["body"]["last_lines"] == []
    assert commands.events(last.stdout)[0]["outcome"] == "succeeded"


def test_a_hanging_or_absent_receiver_costs_at_most_the_timeout(tmp_path, receiver):
    Receiver.delay = 30
    hooks = [{"url": receiver + "/hang", "format": "json"},
             {"url": "http://127.0.0.1:9/down", "format": "slack"}]  # fmt: skip
    t0 = time.monotonic()
    done = step(tmp_path, "exit 5", hooks, timeout=2)
    took = time.monotonic() - t0
    assert done.returncode == 5
    assert "notify: webhook 1 (json): no answer within 2 s" in done.stderr
    assert "notify: webhook 2 (slack): failed: ConnectionRefusedError" in done.stderr
    assert took < 15, took  # bound: the timeout (+1 s), not the receiver's 30 s


def test_an_unreachable_engine_never_changes_the_outcome(tmp_path):
    done = step(tmp_path, "exit 4", [])
    context = {"stack": "s", "step": "health", "build": "r@sha256:1", "record": {
        "argv": ["sh", "-c", "echo 'Cannot connect to the Docker daemon' >&2; exit 1"],
        "script": "/dev/null", "ssh": False}}  # fmt: skip
    argv = [*commands.release_interpreter(context), "echo no; exit 4"]
    argv[1] = str(ROOT / argv[1])
    failed = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 4 and failed.stdout == "no\n"
    assert (
        "the outcome could not be recorded on the deploy engine: exit code 1: Cannot connect"
        in failed.stderr
    )
    assert done.returncode == 4


def test_durations_come_from_the_pulumi_process():
    sys.path.insert(0, str(ROOT / "components" / "scripts"))
    try:
        import release_step as rs
    finally:
        sys.path.pop(0)
    assert rs.etime_seconds("05:07") == 307
    assert rs.etime_seconds("1:02:03") == 3723
    assert rs.etime_seconds("2-00:00:01") == 172801
    assert rs.deployed_by({"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "42",
                           "GITHUB_REPOSITORY": "acme/shop",
                           "GITHUB_SERVER_URL": "https://github.com"}) \
        == "https://github.com/acme/shop/actions/runs/42"  # fmt: skip


# --- policy and plan -------------------------------------------------------------------------


def test_the_policy_refuses_a_hook_as_root_without_a_reason():
    run = run_program(hooked())
    ok = run.one("command:local:Command", "hook-before-switch-scout")
    root = run.one("command:local:Command", "hook-after-verify-cdn")
    # past verify the proxy's check (as root) comes first in the line: not the hook's user
    late = run.one("command:local:Command", "hook-after-verify-horizon")
    for reg in (ok, root, late):
        assert g.hook_not_as_root(reg.type, reg.urn, {"create": run.value(reg, "create")}) \
            == []  # fmt: skip
    forged = run.value(ok, "create").replace("--user www-data", "--user 0")
    assert g.hook_not_as_root(ok.type, ok.urn, {"create": forged}) == [
        "the hook hook-before-switch-scout runs as root without a reason: set as_root: true and "
        "reason: … in its release.hooks entry, or let it run as the web user"
    ]
    sudo = run.value(ok, "create").replace("-- php artisan", "-- sudo php artisan")
    [says] = g.hook_not_as_root(ok.type, ok.urn, {"create": sudo})
    assert "escalates with sudo" in says
    # over ssh the same: the docker exec is the server's command line
    over_ssh = run_program(with_("docker", {"host": "ssh://deploy@vps.example.com:2222",
                                            "known_hosts": [KNOWN]}, hooked()))  # fmt: skip
    remote = over_ssh.one("command:local:Command", "hook-before-switch-scout")
    forged = over_ssh.value(remote, "create").replace("--user www-data", "--user 0")
    assert "runs as root" in g.hook_not_as_root(remote.type, remote.urn, {"create": forged})[0]


def test_the_release_plan_lists_the_hooks_in_their_place(tmp_path):
    from ..tools.test_release_plan import chain as plan_chain
    from ..tools.test_release_plan import code_change, preview
    from ..tools.test_release_plan import run as plan_run

    names = [s.name for s in chain(parse(hooked(), SECRET_KEYS))]
    # the built-in steps in any order: the plan orders them; hooks in the preview's (theirs)
    steps = [*code_change()[:2], *plan_chain([n for n in names if n.startswith("hook-")]),
             *reversed(plan_chain([n for n in names if not n.startswith("hook-")]))]  # fmt: skip
    code, md = plan_run(tmp_path, preview(steps))
    assert code == 0
    listed = [line.split("`")[1] for line in md.splitlines() if line[:1].isdigit()]
    assert listed == [n for n in names if n != "maintenance-down"]
    assert "`hook-before-switch-scout`: your hook (the new build checked, traffic still on the " \
           "old one)" in md  # fmt: skip
    assert rp.hook_point("hook-after-verify-cdn") == "after_verify"


# --- releases.sh (the engine side), for real with a fake docker -------------------------------


def test_releases_sh_records_the_event_with_what_serves_and_answers_the_webhooks(tmp_path):
    from ..commands.test_commands import _host_script

    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "notify.json").write_text('{"timeout": 3, "webhooks": []}\n')
    # The fake engine: the proxy's live record; a one-shot runs its script on the fake volume.
    docker = f"""case "$1" in
  exec) echo 'r@sha256:live' ;;
  run) for last; do :; done; sh -c "$(printf '%s' "$last" | sed 's#/releases#{vol}#g')" ;;
esac"""
    argv = commands.release_event(commands.Engine("unix:///x.sock"), "shop-releases", "db:1", "web")
    assert argv["argv"][3:] == ["unix:///x.sock", "event", "shop-releases", "db:1", "web"]
    before = json.dumps({"outcome": "failed", "step": "migrate"})
    res = _host_script(tmp_path, "releases.sh", [*argv["argv"][3:], before], docker)
    assert res.returncode == 0, res.stderr
    recorded, notify = res.stdout.splitlines()
    assert json.loads(recorded) == {"outcome": "failed", "step": "migrate",
                                    "previous": "r@sha256:live"}  # fmt: skip
    assert json.loads(notify) == {"timeout": 3, "webhooks": []}
    after = json.dumps({"outcome": "succeeded", "previous": "r@sha256:old"})
    res = _host_script(tmp_path, "releases.sh", [*argv["argv"][3:], after], docker)
    assert json.loads(res.stdout.splitlines()[0])["previous"] == "r@sha256:old"  # as given
    lines = (vol / "history.jsonl").read_text().splitlines()
    assert [json.loads(x)["outcome"] for x in lines] == ["failed", "succeeded"]
    calls = (tmp_path / "calls").read_text()
    assert "--volume shop-releases:/releases" in calls and "--network none" in calls


def test_the_notify_config_is_written_from_stdin_for_root_only():
    argv = commands.notify_config(commands.Engine("unix:///x.sock"), "shop-releases", "db:1")
    line = commands.script(argv)
    assert "umask 077" in line and "/releases/notify.json" in line
    assert "--volume shop-releases:/releases" in line and argv[argv.index("--user") + 1] == "0"


def test_a_step_whose_ssh_lost_the_server_says_so_in_one_line(tmp_path):
    # A fake ssh on PATH that loses its connection as a killed ControlMaster makes it do.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(
        "#!/bin/sh\necho 'mux_client_read_packet: read header failed: Broken pipe' >&2\nexit 255\n"
    )
    (bin_dir / "ssh").chmod(0o755)
    line = "ssh -o BatchMode=yes -l deploy -- 10.0.0.9 'docker exec app php artisan config:cache'"
    context = {"stack": "s", "step": "cache-rebuild", "build": "r@sha256:" + "b" * 64,
               "record": {"argv": ["false"], "script": "/dev/null", "ssh": False}}  # fmt: skip
    argv = [*commands.release_interpreter(context), line]
    argv[1] = str(ROOT / argv[1])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 255
    [said] = [x for x in done.stderr.splitlines() if x.startswith("laravel-stack:")]
    assert said == (
        "laravel-stack: the SSH connection to deploy@10.0.0.9 failed during cache-rebuild "
        "(mux_client_read_packet: read header failed: Broken pipe); nothing to clean up: once the "
        "server answers, run `pulumi up` again"
    )


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("ssh -l deploy -- 10.0.0.9 'exit 3'", 3),  # the remote command's own status
        ("docker exec app false", 255),  # not an ssh step
    ],
)
def test_other_failures_are_not_reported_as_a_lost_connection(line, code):
    sys.path.insert(0, str(ROOT / "components/scripts"))
    try:
        import release_step
    finally:
        sys.path.pop(0)
    assert release_step.ssh_lost(line, code, [], "migrate") is None
    assert release_step.ssh_lost("ssh -l deploy -- h 'x'", 255, [], "migrate") == (
        "laravel-stack: the SSH connection to deploy@h failed during migrate (the connection was "
        "dropped); nothing to clean up: once the server answers, run `pulumi up` again"
    )
