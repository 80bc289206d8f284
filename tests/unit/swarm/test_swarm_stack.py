"""The swarm runtime (swarm.enabled) under Pulumi mocks: its services, their policies, the
cluster-wide steps' order, secrets kept out of service specs and command lines; its config."""

from __future__ import annotations

import base64
import re
import shlex
from typing import Any
from unittest import mock

import pytest

from components.commands import swarm
from components.config import ConfigError, parse, swarm_warnings
from components.swarm.services import short_duration

from ..config.test_config import with_
from ..harness import SECRET_KEYS, Recorder, Run, run_program

SHARED = {"type": "nfs", "o": "addr=10.0.0.5,rw", "device": ":/export/shop"}


def swarm_config(**changes: Any) -> dict[str, Any]:
    cfg = with_("swarm", {"enabled": True, "storage": {"driver_options": dict(SHARED)}})
    cfg = with_("web.command", ["php-fpm8.2", "--nodaemonize"], cfg)
    cfg = with_("web.replicas", 2, cfg)
    cfg = with_("redis", {"enabled": True}, cfg)
    cfg = with_("app.extra_env", {"SESSION_DRIVER": "redis", "CACHE_DRIVER": "redis"}, cfg)
    for path, value in changes.items():
        cfg = with_(path.replace("__", "."), value, cfg)
    return cfg


@pytest.fixture(scope="module")
def run() -> Run:
    return run_program(swarm_config())


def service(run: Run, name: str) -> dict[str, Any]:
    return Run.plain(run.one("service:Service", name).inputs)


def test_the_swarm_runtime_declares_services_not_containers(run):
    assert not run.of_type("container:Container")
    assert sorted(r.name for r in run.of_type("service:Service")) == [
        "app", "mysql", "nginx", "queue", "redis", "scheduler",
    ]  # fmt: skip
    components = {r.type for r in run.registrations if r.type.startswith("laravel-stack:")}
    assert "laravel-stack:index:SwarmStack" in components
    assert "laravel-stack:index:LaravelStack" not in components


def test_web_tasks_spread_roll_one_at_a_time_and_roll_back_on_a_failed_check(run):
    app = service(run, "app")
    assert app["mode"] == {"replicated": {"replicas": 2}}
    assert app["taskSpec"]["placement"]["maxReplicas"] == 1
    update = app["updateConfig"]
    # several tasks: one stops (after draining) while the others serve, then its successor
    assert update["order"] == "stop-first" and update["failureAction"] == "rollback"
    # a pause between tasks: a failed task's rollback always wins over the next task's update
    # (services.update_policy); without it the e2e saw both tasks down
    assert update["parallelism"] == 1 and update["delay"] == "5s"
    assert app["rollbackConfig"]["order"] == "stop-first"
    health = app["taskSpec"]["containerSpec"]["healthcheck"]
    seconds = {"2s": 2}[health["interval"]]
    assert int(update["monitor"].removesuffix("s")) >= health["retries"] * seconds
    assert app["endpointSpec"] == {"mode": "dnsrr"}
    assert app["convergeConfig"]["timeout"] == "5m"


def test_every_app_task_runs_its_release_chain_and_proves_its_own_build(run):
    spec = service(run, "app")["taskSpec"]["containerSpec"]
    assert spec["commands"][:2] == ["sh", "/usr/local/lib/laravel-stack/task_start.sh"]
    assert spec["commands"][-3:] == ["--", "php-fpm8.2", "--nodaemonize"]
    test = spec["healthcheck"]["tests"]
    assert test[0] == "CMD-SHELL" and '"$APP_BUILD"' in test[1]
    assert spec["env"]["APP_BUILD"].startswith("registry.example.com/acme/shop@sha256:")
    files = {c["fileName"] for c in spec["configs"]}
    assert "/usr/local/lib/laravel-stack/task_start.sh" in files
    assert "/usr/local/lib/laravel-stack/health_probe.php" in files


def test_secrets_never_reach_a_service_spec_or_a_command_line(run):
    for name in ["app", "queue", "scheduler", "nginx"]:
        reg = run.one("service:Service", name)
        assert not Run.is_secret(reg, "taskSpec"), f"{name}: the spec is secret (unreadable diffs)"
        text = repr(reg.inputs)
        assert "db-pw-123" not in text and "AAAAAAAA" not in text
    secret = run.one("secret:Secret", "env")
    assert Run.is_secret(secret, "data")
    for reg in run.of_type("command:local:Command"):
        text = repr(reg.inputs.get("create"))
        assert not any(s in text for s in ["db-pw-123", "root-pw-456", "reg-pw", "AAAAAAAA"])


def test_data_services_are_pinned_to_the_data_node_and_never_published(run):
    for name in ["mysql", "redis"]:
        svc = service(run, name)
        assert svc["taskSpec"]["placement"]["constraints"] == [
            "node.labels.laravel-stack.data==true"
        ]
        assert "ports" not in svc["endpointSpec"]
        assert svc["updateConfig"]["order"] == "stop-first"


def test_nginx_is_global_and_publishes_the_entry_port_on_every_node_in_host_mode(run):
    nginx = service(run, "nginx")
    assert nginx["mode"] == {"global": True}
    assert nginx["endpointSpec"]["ports"] == [
        {"targetPort": 80, "publishedPort": 8080, "publishMode": "host", "protocol": "tcp"}
    ]
    mounts = nginx["taskSpec"]["containerSpec"]["mounts"]
    assert {m["volumeOptions"]["driverOptions"]["device"] for m in mounts} == {
        ":/export/shop/public", ":/export/shop/storage",
    }  # fmt: skip


def test_a_single_app_task_is_replaced_start_first():
    single = run_program(swarm_config(web__replicas=1))
    app = service(single, "app")
    assert app["updateConfig"]["order"] == "start-first"
    assert app["rollbackConfig"]["order"] == "start-first"


def test_the_scheduler_is_one_task_stopped_before_its_successor(run):
    sched = service(run, "scheduler")
    assert sched["mode"] == {"replicated": {"replicas": 1}}
    assert sched["updateConfig"]["order"] == "stop-first"
    spec = sched["taskSpec"]["containerSpec"]
    assert spec["stopSignal"] == "SIGTERM" and spec["stopGracePeriod"] == "30s"
    assert "--web-user" in spec["commands"]


def depends(run: Run, reg_name: str, type_suffix: str = "command:local:Command") -> set[str]:
    reg = run.one(type_suffix, reg_name)
    return {run.by_urn(u).name for u in reg.dependencies}


def test_cluster_steps_wrap_the_rollout_in_order(run):
    assert "public-init" in depends(run, "public-next")
    assert "contract" in depends(run, "migrate")
    assert "migrate" in depends(run, "cache-clear")
    assert "cache-clear" in depends(run, "canary")
    assert "canary" in depends(run, "app", "service:Service")
    assert "app" in depends(run, "rollout-wait")
    assert "rollout-wait" in depends(run, "fleet-check")
    assert "fleet-check" in depends(run, "switch")
    assert "switch" in depends(run, "queue", "service:Service")
    assert {"queue", "scheduler"} <= depends(run, "workers-restart")
    assert "workers-restart" in depends(run, "retention")
    for name in ["contract", "migrate", "cache-clear", "rollout-wait", "fleet-check", "switch",
                 "retention"]:  # fmt: skip
        triggers = Run.plain(run.one("command:local:Command", name).inputs["triggers"])
        assert any(str(t).startswith("registry.example.com/acme/shop@sha256:") for t in triggers)


def test_the_rollout_is_done_when_swarm_says_so_not_when_every_replica_runs(run):
    # the app's rollout pauses between tasks, when every replica runs, one of them still old:
    # the provider's converge may return then; rollout-wait asks Swarm (rollout_wait.sh)
    assert service(run, "app")["updateConfig"]["delay"] == "5s"
    for name in ("queue", "nginx", "mysql"):
        assert service(run, name)["updateConfig"]["delay"] == "0s"
    create = Run.plain(run.one("command:local:Command", "rollout-wait").inputs["create"])
    argv, script = create.split(" < ")
    assert shlex.split(argv)[:6] == ["env", "DOCKER_HOST=unix:///var/run/docker.sock", "sh", "-s",
                                     "--", "shop-app"]  # fmt: skip
    build, timeout, interval = shlex.split(argv)[6:]
    assert build.startswith("registry.example.com/acme/shop@sha256:")
    assert (timeout, interval) == ("300", "2")  # swarm.converge_timeout
    assert script == "components/scripts/rollout_wait.sh"


def rollout_triggers(run: Run) -> list[Any]:
    """rollout-wait's triggers; the fleet check has the same."""
    wait, fleet = (Run.plain(run.one("command:local:Command", n).inputs["triggers"])
                   for n in ("rollout-wait", "fleet-check"))  # fmt: skip
    assert wait == fleet
    return wait


def test_every_update_of_the_app_service_is_waited_for_and_fleet_checked(run, monkeypatch):
    # Upstream sends the env in Go map order: any update of the app service makes Swarm replace
    # every task, so rollout-wait and the fleet check run after each, not only a new build's.
    build, key = rollout_triggers(run)
    assert build.startswith("registry.example.com/acme/shop@sha256:")
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    for change in ({"app__extra_env": {"SESSION_DRIVER": "redis", "CACHE_DRIVER": "redis",
                                       "MAIL_MAILER": "log"}},
                   {"web__replicas": 3}, {"swarm__converge_timeout": 240}):  # fmt: skip
        assert rollout_triggers(run_program(swarm_config(**change))) == [build, mock.ANY], change
        assert rollout_triggers(run_program(swarm_config(**change)))[1] != key, change
    # A change of the workers only is not the app's rollout.
    assert rollout_triggers(run_program(swarm_config(queue__replicas=3))) == [build, key]
    # The `up` after a release Swarm rolled back: same build and spec as the last good release,
    # but its canary ran again (replaced: a new id), and the service is updated back.
    new_resource = Recorder.new_resource

    def canary_replaced(self, args):
        rid, state = new_resource(self, args)
        return ("canary-id-2" if args.name == "canary" else rid), state

    monkeypatch.setattr(Recorder, "new_resource", canary_replaced)
    assert rollout_triggers(run_program(swarm_config())) == [build, mock.ANY]
    assert rollout_triggers(run_program(swarm_config()))[1] != key


def test_migrate_is_a_one_shot_of_the_new_digest_on_the_overlay_with_env_on_stdin(run):
    reg = run.one("command:local:Command", "migrate")
    argv = shlex.split(Run.plain(reg.inputs["create"]))
    assert argv[:4] == ["docker", "--host", "unix:///var/run/docker.sock", "run"]
    assert argv[argv.index("--network") + 1] == "shop-internal"
    assert argv[-5:] == ["php", "artisan", "migrate", "--force", "--no-interaction"]
    assert argv[argv.index("--pull") + 1] == "never"
    assert argv[argv.index("--entrypoint") + 1 : argv.index("-c") + 2] == [
        "sh", "registry.example.com/acme/shop@" + argv[argv.index("-c") - 1].split("@")[1], "-c",
        swarm.WITH_SECRET_ENV,
    ]  # fmt: skip
    assert Run.is_secret(reg, "stdin")


def test_short_durations_are_what_upstream_reads_back():
    assert [short_duration(s) for s in (0, 5, 60, 90, 3600, 5400, 3605)] == [
        "0s", "5s", "1m", "1m30s", "1h", "1h30m", "1h0m5s",
    ]  # fmt: skip


def test_the_secret_env_is_sourced_by_a_shell_as_given():
    text = swarm.secret_env({"DB_PASSWORD": "it's $HOME `x`", "APP_KEY": "k"})
    assert text.splitlines() == ["APP_KEY=k", "DB_PASSWORD='it'\"'\"'s $HOME `x`'"]


def bad(cfg: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(cfg, SECRET_KEYS)
    return err.value.problems


def test_a_swarm_stack_needs_shared_storage_and_the_web_command():
    cfg = with_("swarm", {"enabled": True})
    problems = bad(cfg)
    assert any(p.startswith("swarm.storage.driver_options: required") for p in problems)
    assert any(p.startswith("web.command: required") for p in problems)


def test_node_local_drivers_are_refused_and_unset_ones_warned_with_their_key():
    problems = bad(swarm_config(app__extra_env={"SESSION_DRIVER": "file"}))
    assert any(p.startswith("app.extra_env.SESSION_DRIVER: 'file'") for p in problems)
    cfg = parse(swarm_config(app__extra_env={}), SECRET_KEYS)
    warnings = swarm_warnings(cfg)
    assert any(w.startswith("app.extra_env.SESSION_DRIVER: unset") for w in warnings)
    assert any(w.startswith("app.extra_env.CACHE_DRIVER: unset") for w in warnings)


def test_swarm_keys_are_refused_outside_a_swarm_stack():
    problems = bad(with_("web.replicas", 3))
    assert problems == ["web.replicas: only in a swarm stack (swarm.enabled)"]
    assert bad(with_("network.encrypted", True)) == [
        "network.encrypted: only in a swarm stack (swarm.enabled)"
    ]


def test_shared_storage_needs_a_type_and_a_device():
    problems = bad(swarm_config(swarm__storage={"driver_options": {"type": "nfs"}}))
    assert any(re.match(r"swarm\.storage\.driver_options: needs `type` and `device`", p)
               for p in problems)  # fmt: skip


def test_what_a_swarm_stack_does_not_support_yet_is_refused_by_key():
    assert "web.tls.mode: TLS is not yet supported in a swarm stack" in bad(
        swarm_config(web__tls={"mode": "acme", "domains": ["shop.example.com"], "email": "a@b.c"})
    )


def test_fpm_needs_its_web_command_octane_defaults_to_the_one_engine_server():
    problems = bad(swarm_config(web__command=...))
    assert any(p.startswith("web.command: required in a swarm stack with web.runtime fpm")
               for p in problems)  # fmt: skip
    cfg = parse(swarm_config(web__runtime="octane", web__command=...), SECRET_KEYS)
    assert swarm.web_command(cfg.web) == [
        "php", "artisan", "octane:frankenphp", "--host=0.0.0.0", "--port=8000",
    ]  # fmt: skip
    given = ["php", "artisan", "octane:frankenphp", "--host=0.0.0.0", "--port=8000", "--workers=4"]
    cfg = parse(swarm_config(web__runtime="octane", web__command=given), SECRET_KEYS)
    assert swarm.web_command(cfg.web) == given


@pytest.fixture(scope="module")
def octane() -> Run:
    """Octane on a port of its own, web.command unset: the defaults follow web.octane_port."""
    return run_program(swarm_config(web__runtime="octane", web__octane_port=8100, web__command=...))


def nginx_conf(run: Run) -> str:
    data = Run.plain(run.one("serviceConfig:ServiceConfig", "nginx.conf").inputs["data"])
    return base64.b64decode(data).decode()


def test_an_octane_task_runs_its_chain_then_octane_and_proves_its_build_over_http(octane):
    spec = service(octane, "app")["taskSpec"]["containerSpec"]
    assert spec["commands"][:2] == ["sh", "/usr/local/lib/laravel-stack/task_start.sh"]
    assert spec["commands"][-6:] == [
        "--", "php", "artisan", "octane:frankenphp", "--host=0.0.0.0", "--port=8100",
    ]  # fmt: skip
    test = spec["healthcheck"]["tests"]
    assert test[0] == "CMD-SHELL"
    probe = shlex.split(test[1])
    assert probe[1:4] == ["/usr/local/lib/laravel-stack/health_probe.php",
                          "http://127.0.0.1:8100/up", "200"]  # fmt: skip
    assert '"$APP_BUILD"' in test[1]
    # Octane's command stops FrankenPHP gracefully on SIGTERM (task_start.sh forwards it after
    # the drain); SIGQUIT, FPM's, it does not handle
    assert spec["stopSignal"] == "SIGTERM"
    assert spec["env"]["LARAVEL_STACK_DRAIN_SECONDS"] == "3"


def test_an_fpm_task_is_probed_over_fastcgi_and_stopped_with_sigquit(run):
    spec = service(run, "app")["taskSpec"]["containerSpec"]
    probe = shlex.split(spec["healthcheck"]["tests"][1])
    assert probe[2] == "fcgi://127.0.0.1:9000/up"
    assert spec["stopSignal"] == "SIGQUIT"


def app_locations(conf: str) -> list[list[str]]:
    """The lines of each location that passes to the app tasks: the fallback, PHP, and a URI
    ending in / (the home page: try_files would find the build's directory)."""
    locations = ("location @app {", "location ~ \\.php$ {", "location ~ /$ {")
    blocks = [conf.split(loc, 1)[1].split("}", 1)[0] for loc in locations]
    return [[line.strip() for line in block.splitlines()] for block in blocks]


def test_nginx_proxies_to_octane_tasks_and_fails_over_a_silent_one_in_a_second(octane):
    conf = nginx_conf(octane)
    assert "set $app_tasks tasks.shop-app:8100;" in conf
    assert "fastcgi" not in conf
    for lines in app_locations(conf):
        assert "proxy_pass http://$app_tasks;" in lines
        assert "proxy_connect_timeout 1s;" in lines
        assert "proxy_next_upstream error timeout;" in lines
        assert "proxy_http_version 1.1;" in lines
        assert "proxy_set_header Host $host;" in lines
        assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in lines
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in lines
    assert "try_files /current$uri /next$uri /previous$uri @app;" in conf


def test_nginx_passes_fastcgi_to_fpm_tasks(run):
    conf = nginx_conf(run)
    assert "set $app_tasks tasks.shop-app:9000;" in conf
    assert "proxy_pass" not in conf
    for lines in app_locations(conf):
        assert "fastcgi_pass $app_tasks;" in lines and "fastcgi_connect_timeout 1s;" in lines
    assert "try_files /current$uri /next$uri /previous$uri @app;" in conf


def step_argv(run: Run, name: str) -> list[str]:
    return shlex.split(Run.plain(run.one("command:local:Command", name).inputs["create"]))


def test_the_octane_canary_and_fleet_check_probe_octane_over_http(octane):
    canary = step_argv(octane, "canary")
    tail = canary[canary.index("/tmp/laravel-stack/canary.sh") :]
    assert tail[2] == "http://127.0.0.1:8100/up"
    assert tail[-6:] == [
        "--", "php", "artisan", "octane:frankenphp", "--host=0.0.0.0", "--port=8100",
    ]  # fmt: skip
    fleet = step_argv(octane, "fleet-check")
    assert fleet[fleet.index("tasks.shop-app") + 1 : fleet.index("tasks.shop-app") + 3] == [
        "2", "http://{task}:8100/up",
    ]  # fmt: skip


def test_the_fpm_fleet_check_probes_each_task_over_fastcgi(run):
    fleet = step_argv(run, "fleet-check")
    assert fleet[fleet.index("tasks.shop-app") + 1 : fleet.index("tasks.shop-app") + 3] == [
        "2", "fcgi://{task}:9000/up",
    ]  # fmt: skip


def test_the_canary_runs_the_task_chain_and_probes_the_deployed_build_with_files_on_stdin(run):
    reg = run.one("command:local:Command", "canary")
    assert Run.is_secret(reg, "stdin")
    argv = shlex.split(Run.plain(reg.inputs["create"]))
    build = argv[argv.index("sh") - 1]  # the image, then the image's entrypoint runs `sh -c`
    assert build.startswith("registry.example.com/acme/shop@sha256:")
    tail = argv[argv.index("/tmp/laravel-stack/canary.sh") :]
    assert tail[1:4] == ["/tmp/laravel-stack", "fcgi://127.0.0.1:9000/up", "200"]
    assert tail[5] == build  # the probe requires the deployed digest
    assert tail[-5:] == ["33", "33", "--", "php-fpm8.2", "--nodaemonize"]


def test_a_bundle_is_the_same_text_for_the_same_files_and_unpacks_to_them(tmp_path):
    import base64
    import gzip
    import io
    import tarfile

    one = swarm.bundle({"b.sh": "echo b\n", "secret.env": "K='v'\n"})
    assert one == swarm.bundle({"secret.env": "K='v'\n", "b.sh": "echo b\n"})
    raw = gzip.decompress(base64.b64decode(one))
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        assert {m.name: m.mode for m in tar.getmembers()} == {"b.sh": 0o400, "secret.env": 0o400}
        member = tar.extractfile("secret.env")
        assert member is not None and member.read() == b"K='v'\n"


def test_an_encrypted_overlay_is_never_replaced_for_the_options_the_engine_adds():
    enc = run_program(swarm_config(network__encrypted=True))
    net = enc.one("network:Network", "overlay")
    assert Run.plain(net.inputs["options"]) == {"encrypted": ""}
    assert net.inputs["driver"] == "overlay" and net.inputs["attachable"] is True
    assert net.ignore_changes == ["options"]


def test_a_plain_overlay_declares_no_options(run):
    net = run.one("network:Network", "overlay")
    assert "options" not in net.inputs or net.inputs["options"] is None
    assert net.ignore_changes == []
