"""The stack under Pulumi mocks: inventory, digests, isolation, the chain's real dependencies."""

from __future__ import annotations

import itertools
import json
import re
import shlex

import pytest

from components import commands
from components.core.common import go_duration, healthcheck

from ..config.test_config import with_
from ..harness import Run, fake_digest, run_program, valid_config

CHAIN = ["contract", "ownership", "backup", "migrate", "cache-clear", "opcache-reset",
         "cache-rebuild", "workers-restart", "health", "switch", "verify", "public-prune",
         "retention"]  # fmt: skip
APP = "shop-app-" + fake_digest("shop-app")[7:14]  # the mock's auto-name
QUEUE = "shop-queue-1-" + fake_digest("shop-queue-1")[7:14]


@pytest.fixture(scope="module")
def fpm() -> Run:
    return run_program(valid_config())


@pytest.fixture(scope="module")
def octane() -> Run:
    return run_program(with_("web.runtime", "octane"))


@pytest.fixture(scope="module")
def run_redis() -> Run:
    return run_program(with_("redis", {"enabled": True}))


def names(run: Run, type_suffix: str) -> list[str]:
    return sorted(r.name for r in run.of_type(type_suffix))


def test_components_have_the_documented_type_tokens_and_parents(fpm):
    components = {r.type for r in fpm.registrations if r.type.startswith("laravel-stack:")}
    assert components == {
        f"laravel-stack:index:{n}"
        for n in ["LaravelStack", "AppImage", "NetworkAndVolumes", "Database", "PublicInit",
                  "WebRuntime", "Workers", "ReleaseChain"]
    }  # fmt: skip
    top = fpm.one("LaravelStack", "test")
    for reg in fpm.registrations:
        if reg is not top:
            assert reg.parent, f"{reg.type} {reg.name} has no parent"


def test_fpm_inventory(fpm):
    assert names(fpm, "container:Container") == [
        "mysql", "nginx", "shop-app", "shop-queue-1", "shop-scheduler",
    ]  # fmt: skip
    assert names(fpm, "volume:Volume") == ["backups", "db-data", "public", "releases", "storage"]
    assert names(fpm, "network:Network") == ["internal"]
    assert names(fpm, "image:Image") == ["app"]
    commands_ = sorted([*CHAIN, "notify-config", "public-init", "pull"])
    assert names(fpm, "command:local:Command") == commands_


def test_octane_inventory(octane):
    assert names(octane, "container:Container") == [
        "mysql", "nginx", "shop-octane", "shop-queue-1", "shop-scheduler",
    ]  # fmt: skip
    octane_c = octane.one("container:Container", "shop-octane")
    assert octane.value(octane_c, "command")[2] == "octane:frankenphp"
    reset = octane.line(octane.one("command:local:Command", "opcache-reset"))
    assert "octane:reload" in reset and "USR2" not in reset


def test_every_app_container_runs_the_pushed_digest(fpm):
    digest = fpm.outputs["image"]
    assert "@sha256:" in digest and ":2026" not in digest.split("@")[0]
    pulled = fpm.one("remoteImage:RemoteImage", "app")
    assert fpm.value(pulled, "name") == digest
    app_containers = [r for r in fpm.of_type("container:Container")
                      if r.name not in ("mysql", "nginx")]  # fmt: skip
    assert len(app_containers) == 3
    for c in app_containers:
        # image id of the image pulled by digest, and the digest itself in APP_BUILD
        assert fpm.value(c, "image") == fake_digest("id:" + digest)
        assert f"APP_BUILD={digest}" in fpm.value(c, "envs")


def test_public_init_uses_the_new_digest_and_gates_nginx(fpm):
    init = fpm.one("command:local:Command", "public-init")
    # it runs the digest the deploy engine's provider pulled, never pulling on its own
    assert fpm.one("remoteImage:RemoteImage", "app").urn in init.dependencies
    assert fpm.outputs["image"] in fpm.line(init)
    assert fpm.value(init, "triggers") == [fpm.outputs["image"]]
    nginx = fpm.one("container:Container", "nginx")
    assert init.urn in nginx.dependencies


def test_database_is_internal_only_and_health_checked(fpm):
    db = fpm.one("container:Container", "mysql")
    assert not fpm.value(db, "ports")
    assert [n["name"] for n in fpm.value(db, "networksAdvanced")] == ["shop-internal"]
    assert fpm.value(db, "healthcheck")["tests"][0] == "CMD-SHELL"
    assert fpm.value(db, "wait") is True
    published = [r.name for r in fpm.of_type("container:Container") if fpm.value(r, "ports")]
    assert published == ["nginx"]


def test_only_the_web_entry_publishes_and_on_the_configured_address(fpm):
    [port] = fpm.value(fpm.one("container:Container", "nginx"), "ports")
    assert (port["internal"], port["external"], port["ip"]) == (80, 8080, "127.0.0.1")


def test_data_volumes_are_protected_and_retained(fpm):
    db = fpm.one("volume:Volume", "db-data")
    assert fpm.value(db, "name") == "shop-db-data"
    assert db.protect and db.retain_on_delete
    storage = fpm.one("volume:Volume", "storage")
    assert storage.retain_on_delete and not storage.protect
    public = fpm.one("volume:Volume", "public")
    assert not public.retain_on_delete and not public.protect


def test_volume_protection_follows_config():
    run = run_program(with_("database.protect_volume", False))
    db = run.one("volume:Volume", "db-data")
    assert not db.protect and db.retain_on_delete


def test_chain_order_is_enforced_by_registered_dependencies(fpm):
    steps = [fpm.one("command:local:Command", s) for s in CHAIN]
    for before, after in itertools.pairwise(steps):
        assert before.urn in after.dependencies, f"{after.name} does not wait for {before.name}"
    # and nothing later is a dependency of something earlier
    for i, step in enumerate(steps):
        later = {s.urn for s in steps[i + 1 :]}
        assert not later & set(step.dependencies)
    first_deps = set(steps[0].dependencies)
    for role in ["shop-app", "nginx", "shop-queue-1", "shop-scheduler"]:
        assert fpm.one("container:Container", role).urn in first_deps
    assert fpm.one("command:local:Command", "public-init").urn in first_deps


def test_each_step_is_triggered_by_the_digest(fpm):
    for name in CHAIN:
        triggers = fpm.value(fpm.one("command:local:Command", name), "triggers")
        assert fpm.outputs["image"] in triggers, name


def test_a_recreated_proxy_is_switched_again_and_checked_without_a_release(fpm):
    # The front proxy's container starts pointing nowhere: its id triggers the switch and verify
    # (the mocks' ids are "<name>-id"), and no step that runs code of the build.
    proxy = fpm.one("container:Container", "nginx")
    assert proxy.name == "nginx"
    for name in CHAIN:
        triggers = fpm.value(fpm.one("command:local:Command", name), "triggers")
        assert ("nginx-id" in triggers) == (name in ("switch", "verify")), name


def test_steps_run_in_the_web_workers_container_as_the_web_user(fpm):
    for name in ["migrate", "cache-clear", "cache-rebuild", "workers-restart"]:
        create = fpm.line(fpm.one("command:local:Command", name))
        assert f"exec --user www-data {APP} " in create, name
    # app_probe.sh runs the probe in that container as that user
    create = fpm.line(fpm.one("command:local:Command", "health"))
    assert create.startswith(f"sh -s -- unix:///var/run/docker.sock {APP} www-data "), create
    reset = fpm.line(fpm.one("command:local:Command", "opcache-reset"))
    assert reset == (f"docker --host unix:///var/run/docker.sock exec --user 0 {APP} "
                     "sh /usr/local/lib/laravel-stack/fpm_reload.sh")  # fmt: skip
    health = fpm.line(fpm.one("command:local:Command", "health"))
    assert "fcgi://127.0.0.1:9000/up" in health and fpm.outputs["image"] in health
    verify = fpm.line(fpm.one("command:local:Command", "verify"))
    assert "http://shop-web:80/up" in verify and fpm.outputs["image"] in verify
    switch = fpm.line(fpm.one("command:local:Command", "switch"))
    assert f"proxy_switch.sh to {APP} 9000 {fpm.outputs['image']}" in switch


def test_commands_do_not_stream_output_to_logs(fpm):
    for reg in fpm.of_type("command:local:Command"):
        assert fpm.value(reg, "logging") == "none", reg.name


def test_skipped_steps_are_not_declared_and_the_chain_stays_linked():
    run = run_program(with_("release.skip", ["opcache-reset"]))
    assert "opcache-reset" not in names(run, "command:local:Command")
    clear = run.one("command:local:Command", "cache-clear")
    rebuild = run.one("command:local:Command", "cache-rebuild")
    assert clear.urn in rebuild.dependencies


def test_secrets_are_secret_in_inputs_and_outputs(fpm):
    for name in ["shop-app", "shop-queue-1", "shop-scheduler", "mysql"]:
        c = fpm.one("container:Container", name)
        assert Run.is_secret(c, "envs"), f"{name} envs not secret"
        assert "envs" in c.additional_secret_outputs
    assert Run.is_secret(fpm.one("image:Image", "app"), "registry")
    provider = next(r for r in fpm.registrations if r.type == "pulumi:providers:docker")
    assert Run.is_secret(provider, "registryAuth")
    plain_outputs = repr({k: v for k, v in fpm.outputs.items() if k not in fpm.secret_outputs})
    for secret in ["db-pw-123", "root-pw-456", "reg-pw", "AAAAAAAA"]:
        assert secret not in plain_outputs
    # No secret leaks into any command text.
    for reg in fpm.of_type("command:local:Command"):
        text = repr(fpm.line(reg))
        assert not any(s in text for s in ["db-pw-123", "root-pw-456", "reg-pw"])


def test_outputs(fpm):
    out = fpm.outputs
    assert out["web_url"] == "http://127.0.0.1:8080/"
    assert out["health_url"] == "http://127.0.0.1:8080/up"
    assert out["build_id"].startswith("sha256:") and out["image"].endswith(out["build_id"])
    assert out["network"] == "shop-internal"
    assert out["release"] == "verify: ok"  # the public check's receipt
    assert out["containers"] == {
        "mysql": "shop-mysql", "app": APP, "web": "shop-web", "queue-1": QUEUE,
        "scheduler": "shop-scheduler",
    }  # fmt: skip


def test_external_network_is_looked_up_not_created():
    run = run_program(with_("network", {"name": "docker_internal", "external": True}))
    assert names(run, "network:Network") == []
    db = run.one("container:Container", "mysql")
    assert [n["name"] for n in run.value(db, "networksAdvanced")] == ["docker_internal"]
    assert run.outputs["network"] == "docker_internal"


def test_queue_replicas_and_redis():
    run = run_program(with_("redis", {"enabled": True}, with_("queue.replicas", 3)))
    assert names(run, "container:Container") == [
        "mysql", "nginx", "redis", "shop-app", "shop-queue-1", "shop-queue-2", "shop-queue-3",
        "shop-scheduler",
    ]  # fmt: skip
    app = run.one("container:Container", "shop-app")
    assert "REDIS_HOST=shop-redis" in run.value(app, "envs")


def test_workers_stop_gracefully_and_skip_the_fpm_healthcheck(fpm):
    for name in ["shop-queue-1", "shop-scheduler"]:
        c = fpm.one("container:Container", name)
        assert fpm.value(c, "stopSignal") == "SIGTERM"
        assert fpm.value(c, "healthcheck")["tests"] == ["NONE"]
        assert fpm.value(c, "user") == "www-data"
    assert fpm.value(fpm.one("container:Container", "shop-app"), "stopSignal") == "SIGQUIT"


def test_workers_never_boot_on_caches_baked_into_the_image(fpm):
    queue = fpm.value(fpm.one("container:Container", "shop-queue-1"), "command")
    assert queue[:2] == ["sh", "-c"] and "config:clear" in queue[2]
    assert queue[3:] == ["laravel-stack-worker", "php", "artisan", "queue:work", "--sleep=3",
                         "--tries=3", "--max-time=3600"]  # fmt: skip
    sched = fpm.value(fpm.one("container:Container", "shop-scheduler"), "command")
    assert sched[-3:] == ["php", "artisan", "schedule:work"]
    # the chain itself only execs into the web container (workers restart under it)
    for step in ["cache-clear", "cache-rebuild"]:
        create = fpm.line(fpm.one("command:local:Command", step))
        assert "shop-queue-1" not in create and "shop-scheduler" not in create


def test_the_chain_not_a_health_wait_judges_a_new_container_by_default(fpm):
    app = fpm.one("container:Container", "shop-app")
    # No idle wait at creation: `contract` checks the image at once, `health` proves it answers.
    assert fpm.value(app, "wait") is False
    probe = fpm.value(app, "healthcheck")["tests"]
    # the chain's probe, from the file the stack uploads into the container (no image HEALTHCHECK)
    assert probe[:3] == ["CMD", "php", "/usr/local/lib/laravel-stack/health_probe.php"]
    uploads = {u["file"]: u["content"] for u in fpm.value(app, "uploads")}
    assert uploads[probe[2]] == (commands.SCRIPTS / "health_probe.php").read_text()
    assert probe[3:] == ["fcgi://127.0.0.1:9000/up", "200", "header:X-Laravel-Stack-Build", "",
                         "1", "0", "5", "/var/www/html/public/index.php"]  # fmt: skip
    # the header comes from build_header.php, prepended by the stack's php.ini on the health path
    ini = uploads["/usr/local/etc/laravel-stack/php/zz-laravel-stack.ini"]
    assert "auto_prepend_file = /usr/local/lib/laravel-stack/build_header.php\n" in ini
    assert 'laravel_stack.health_path = "/up"\n' in ini
    assert (
        uploads["/usr/local/lib/laravel-stack/build_header.php"]
        == (commands.SCRIPTS / "build_header.php").read_text()
    )
    run = run_program(with_("web.wait_healthy", True))
    app = run.one("container:Container", "shop-app")
    assert run.value(app, "wait") is True and run.value(app, "waitTimeout") == 120


def test_the_app_is_probed_every_10_s_unless_up_waits_for_its_first_healthy_probe(fpm):
    # Nothing on one engine acts on the app's health (the chain probes the container itself):
    # a probe every 2 s would cost about 4% of a core per app container, all day.
    app = fpm.one("container:Container", "shop-app")
    assert fpm.value(app, "wait") is False
    assert fpm.value(app, "healthcheck")["interval"] == "10s"
    assert fpm.value(app, "healthcheck")["retries"] == 3
    # Docker probes first one interval after the start: `up` waiting for it probes every 2 s.
    run = run_program(with_("web.wait_healthy", True))
    hc = run.value(run.one("container:Container", "shop-app"), "healthcheck")
    assert hc["interval"] == "2s"


def test_blue_green_app_and_workers_are_created_before_the_old_ones_go(fpm):
    # auto-named (a new name per replacement), create-before-delete: the old one serves on
    for name in ["shop-app", "shop-queue-1"]:
        c = fpm.one("container:Container", name)
        assert fpm.value(c, "name") is None, "a fixed name would force delete-before-create"
        assert c.delete_before_replace is False, name
    # one scheduler at a time; the stable proxy owns the port and never names a release
    sched = fpm.one("container:Container", "shop-scheduler")
    assert fpm.value(sched, "name") == "shop-scheduler" and sched.delete_before_replace
    nginx = fpm.one("container:Container", "nginx")
    assert fpm.outputs["image"] not in repr(nginx.inputs)
    assert not fpm.value(fpm.one("container:Container", "shop-app"), "ports")


def test_octane_sits_behind_the_same_front_proxy(octane):
    nginx = octane.one("container:Container", "nginx")
    [port] = octane.value(nginx, "ports")
    assert port["external"] == 8080
    assert not octane.value(octane.one("container:Container", "shop-octane"), "ports")
    health = octane.line(octane.one("command:local:Command", "health"))
    assert "http://127.0.0.1:8000/up" in health
    # The switch, and the switch back on a failed verify, are the same as with FPM: the proxy's
    # upstream is the Octane container's port.
    switch = octane.line(octane.one("command:local:Command", "switch"))
    assert "proxy_switch.sh to shop-octane-" in switch and " 8000 " in switch
    verify = shlex.split(octane.line(octane.one("command:local:Command", "verify")))
    assert verify[4:6] == ["verify", "shop-web"] and verify[7:9] == [verify[7], "8000"]
    assert "release_switch.sh" in verify[-1]


def test_workers_start_after_their_web_container(fpm):
    app = fpm.one("container:Container", "shop-app")
    for name in ["shop-queue-1", "shop-scheduler"]:
        assert app.urn in fpm.one("container:Container", name).dependencies


# Durations as Docker reports them back (Go's time.Duration.String()).
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?\d+s$")
TIMINGS = ("interval", "timeout", "startPeriod")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (3, "3s"), (59, "59s"), (60, "1m0s"), (90, "1m30s"), (3600, "1h0m0s"),
     (3725, "1h2m5s")],
)  # fmt: skip
def test_go_duration_matches_the_engine_read_back(seconds, text):
    assert go_duration(seconds) == text


def test_every_declared_healthcheck_timing_reads_back_unchanged(fpm, run_redis):
    # Upstream reads each timing back from the engine as Go text and fills a zero from the
    # image's HEALTHCHECK (even with NONE): every timing declared, non-zero, in that text.
    checked = 0
    for result in (fpm, run_redis):
        containers = result.of_type("container:Container")
        if result is run_redis:
            containers = [result.one("container:Container", "redis")]
        for c in containers:
            hc = result.value(c, "healthcheck")
            if not hc:
                continue
            checked += 1
            for key in TIMINGS:
                assert GO_DURATION.match(hc[key]) and hc[key] != "0s", (c.name, key, hc)
            assert hc["retries"] > 0, (c.name, hc)
            assert "startInterval" not in hc  # engines before API 1.44 do not store it
    assert checked == 4 + 1  # app, mysql, queue-1, scheduler; redis
    mysql = fpm.value(fpm.one("container:Container", "mysql"), "healthcheck")
    assert mysql["startPeriod"] == "1m0s"


def test_healthcheck_refuses_a_zero_timing():
    with pytest.raises(ValueError, match="start_period must be > 0"):
        healthcheck(["NONE"], interval=1, timeout=1, retries=1, start_period=0)


def test_the_image_is_built_by_the_build_engine_and_everything_else_runs_on_the_deploy_engine():
    import yaml

    from ..harness import ROOT

    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    raw = {k.removeprefix("laravel-stack:"): v for k, v in doc["config"].items()}
    raw["registry"]["password"] = "token"
    raw["database"].update(password="a", root_password="b")
    raw["app"]["key"] = valid_config()["app"]["key"]
    run = run_program(raw)
    providers = {r.name: r for r in run.of_type("pulumi:providers:docker")}
    assert set(providers) == {"docker", "docker-build"}
    deploy, build = providers["docker"], providers["docker-build"]
    assert run.value(deploy, "host") == "ssh://deploy@vps1.example.com"
    assert "host" not in build.inputs  # the engine where `pulumi up` runs
    ssh_opts = json.loads(run.value(deploy, "sshOpts"))
    assert "StrictHostKeyChecking=yes" in ssh_opts and "BatchMode=yes" in ssh_opts
    [image] = run.of_type("docker:index/image:Image")
    assert image.provider.startswith(build.urn + "::")
    docker_resources = [r for r in run.registrations
                        if r.type.startswith("docker:") and r is not image]  # fmt: skip
    assert {r.type.split(":")[-1] for r in docker_resources} == {
        "RemoteImage",
        "Container",
        "Volume",
    }  # fmt: skip (the network is external)
    for r in docker_resources:
        assert r.provider.startswith(deploy.urn + "::"), r.name
    # …and every release command reaches the server over ssh with the pinned key.
    for cmd in run.of_type("command:local:Command"):
        text = run.line(cmd)
        # every command of the line (`a && b`, `{ a && b; } || { c; }`) goes over ssh
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        words = [w for w in lexer if w not in ("{", "}", ";", ";;")]
        starts = [0] + [i + 1 for i, w in enumerate(words) if w in ("&&", "||")]
        assert all(words[i] == "ssh" for i in starts), cmd.name
        assert "--host" not in text, cmd.name
        assert "vps1.example.com" in text and "StrictHostKeyChecking=yes" in text


def test_an_ssh_engine_is_checked_before_any_resource_and_a_local_one_is_not(fpm):
    assert fpm.preflights == []  # unix:// (the default): nothing to check
    known = ["vps.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"]
    raw = with_("docker", {"host": "ssh://deploy@vps.example.com", "known_hosts": known})
    assert run_program(raw).preflights == ["ssh://deploy@vps.example.com"]
