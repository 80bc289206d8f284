"""Command builders: the exact text the release runs, quoting, user and Docker host."""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from components import commands, files
from components.config import DEFAULT_PHP_INI
from components.release import STEPS, Target, step_script

from .harness import SECRET_KEYS, valid_config

TCP = commands.Engine("tcp://docker.example.com:2376")
UNIX = commands.Engine("unix:///d.sock")
SSH = "ssh://deploy@vps.example.com:2222"
KNOWN = "[vps.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKiHn212C3cRN"


def test_artisan_runs_as_the_web_user_against_the_given_host():
    argv = commands.artisan(TCP, "shop-app", "www-data", "config:cache")
    assert argv == [
        "docker", "--host", TCP.host, "exec", "--user", "www-data", "shop-app",
        "php", "artisan", "config:cache", "--no-interaction",
    ]  # fmt: skip


def test_script_quotes_every_argument_and_stops_at_first_failure():
    line = commands.script(["echo", "a b"], ["echo", "$HOME; rm -rf /"])
    assert line == "echo 'a b' && echo '$HOME; rm -rf /'"
    out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True)
    assert out.stdout == "a b\n$HOME; rm -rf /\n"
    failing = subprocess.run(["sh", "-c", commands.script(["false"], ["echo", "ran"])],
                             capture_output=True, text=True)  # fmt: skip
    assert failing.returncode != 0 and failing.stdout == ""


def _batches(argvs: list[list[str]]) -> list[list[str]]:
    """The artisan commands of each exec: one list per PHP boot."""
    out = []
    for a in argvs:
        if a[-2:] == ["config:clear", "--no-interaction"]:
            out.append(["config:clear"])
        else:
            batch = a.index(commands.release_script("artisan_batch.php"))
            assert a[batch - 1] == "php"
            out.append(a[batch + 1 :])
    return out


def test_cache_clear_and_rebuild_cover_every_laravel_cache_in_few_boots():
    # after migrate (its config:clear): one boot; a baked config cache may exist otherwise
    fresh = _batches(commands.cache_clear(UNIX, "c", "www-data", config_cached=False))
    assert fresh == [["config:clear", "route:clear", "view:clear", "event:clear", "cache:clear"]]
    baked = _batches(commands.cache_clear(UNIX, "c", "www-data"))
    assert baked == [["config:clear"], ["route:clear", "view:clear", "event:clear", "cache:clear"]]
    rebuilt = _batches(commands.cache_rebuild(UNIX, "c", "www-data"))
    assert rebuilt == [["config:cache", "route:cache", "view:cache", "event:cache"]]


def test_opcache_reset_reaches_the_web_workers_not_the_cli():
    fpm = commands.opcache_reset(TCP, "shop-app", "www-data", "fpm")
    # From inside, as root: `docker kill --signal` would mark the container as stopped by hand,
    # and the engine would not start it again after a restart (issue 18).
    assert fpm == ["docker", "--host", TCP.host, "exec", "--user", "0", "shop-app",
                   "sh", "/usr/local/lib/laravel-stack/fpm_reload.sh"]  # fmt: skip
    assert "kill" not in fpm
    octane = commands.opcache_reset(TCP, "shop-octane", "www-data", "octane")
    assert octane[-2:] == ["octane:reload", "--no-interaction"]
    assert "opcache_reset" not in shlex.join(fpm + octane)
    with pytest.raises(ValueError):
        commands.opcache_reset(TCP, "x", "www-data", "apache")


def test_ownership_fix_runs_as_root_and_checks_as_web_user():
    fix = commands.fix_ownership(UNIX, "shop-app", "/srv/app", 33, 33)
    assert fix[:6] == ["docker", "--host", "unix:///d.sock", "exec", "--user", "0"]
    assert "/srv/app/storage" in fix and "/srv/app/bootstrap/cache" in fix
    assert fix[-4:] == ["chown", "33:33", "{}", "+"]
    [check] = commands.check_writable(UNIX, "shop-app", "/srv/app", "www-data")
    assert check[5] == "www-data" and check[7:10] == ["sh", "-c", commands.WRITABLE_SH]
    assert check[-3:] == ["/srv/app/storage/framework/cache", "/srv/app/storage/framework/views",
                          "/srv/app/bootstrap/cache"]  # fmt: skip


def test_the_writable_check_names_the_directory_the_web_user_cannot_write(tmp_path):
    ok, ro = tmp_path / "ok", tmp_path / "ro"
    ok.mkdir()
    res = _sh(commands.WRITABLE_SH, str(ok), str(ro))  # `ro` does not exist: not writable
    assert res.returncode == 1 and res.stderr == f"not writable by the web user: {ro}\n"
    assert _sh(commands.WRITABLE_SH, str(ok)).returncode == 0


def _sh(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", script, "job", *args], capture_output=True, text=True)


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    """A project script as the chain runs it: read on stdin by `sh -s`."""
    with open(commands.SCRIPTS / name) as stdin:
        return subprocess.run(["sh", "-s", "--", *args], stdin=stdin, capture_output=True,
                              text=True)  # fmt: skip


def test_public_init_adds_the_new_build_then_prune_removes_older_assets(tmp_path):
    # Run the jobs' shell scripts for real against a directory standing in for the volume.
    src, dst = tmp_path / "public", tmp_path / "volume"
    (src / "css").mkdir(parents=True)
    (src / "index.php").write_text("<?php")
    (src / "css" / "app.css").write_text("body{}")
    dst.mkdir()
    (dst / "old-build.js").write_text("old")
    owner = f"{os.getuid()}:{os.getgid()}"
    assert _script("public_init.sh", str(src), str(dst), "1", owner).returncode == 0
    # Before the switch the old build's assets are still there for pages it serves.
    assert (dst / "old-build.js").exists()
    assert (dst / "css" / "app.css").read_text() == "body{}"
    assert (dst / "storage").is_symlink()
    assert str((dst / "storage").readlink()) == "../storage/app/public"
    pruned = _script("public_prune.sh", str(src), str(dst), "1")
    assert pruned.returncode == 0, pruned.stderr
    assert "pruned ./old-build.js" in pruned.stdout
    assert not (dst / "old-build.js").exists()
    assert (dst / "css" / "app.css").exists() and (dst / "storage").is_symlink()


def test_public_init_fails_when_the_image_has_no_public_dir(tmp_path):
    dst = tmp_path / "volume"
    dst.mkdir()
    assert _script("public_init.sh", str(tmp_path / "nope"), str(dst), "1", "0:0").returncode
    assert _script("public_prune.sh", str(tmp_path / "nope"), str(dst), "1").returncode


def test_public_init_command_runs_the_new_image_once_and_removes_itself():
    argv = commands.public_init(TCP, "reg/app@sha256:abc", "shop-public", "/var/www/html/public",
                                True, 33, 33)  # fmt: skip
    assert argv[:8] == ["docker", "--host", TCP.host, "run", "--rm", "--interactive", "--pull",
                        "never"]  # fmt: skip
    assert "reg/app@sha256:abc" in argv
    assert argv[argv.index("--volume") + 1] == "shop-public:/mnt/public"
    assert argv[-4:] == ["/var/www/html/public", "/mnt/public", "1", "33:33"]
    prune = commands.public_prune(TCP, "reg/app@sha256:abc", "shop-public", "/var/www/html/public",
                                  True)  # fmt: skip
    assert prune[:5] == argv[:5] and prune[-3:] == ["/var/www/html/public", "/mnt/public", "1"]
    # The scripts come on stdin, from the project (the same text in every checkout).
    line = commands.script(argv)
    assert line.endswith("@sha256:abc -s -- /var/www/html/public /mnt/public 1 33:33 < "
                         "components/scripts/public_init.sh"), line  # fmt: skip
    assert commands.script(prune).endswith(" < components/scripts/public_prune.sh")


def test_health_probe_passes_values_as_arguments_not_code():
    argv = commands.health_probe(
        TCP, "shop-app", "www-data", "http://shop-web:80/up", expected_status=200,
        build_field="build", build="reg/app@sha256:abc'; exit 0; '", retries=3, interval=1,
        timeout=2,
    )  # fmt: skip
    probe = argv.index("/usr/local/lib/laravel-stack/health_probe.php")
    assert argv[probe - 1] == "php"
    assert argv[probe + 1 :] == [
        "http://shop-web:80/up", "200", "build", "reg/app@sha256:abc'; exit 0; '", "3", "1", "2",
        "",
    ]  # fmt: skip
    # The hostile build string survives shell quoting intact.
    assert shlex.split(commands.script(argv)) == argv


REPO = "registry.example.com/acme/shop"


def target(**overrides) -> Target:
    from components.config import parse

    raw = valid_config()
    raw.update(overrides)
    return Target(cfg=parse(raw, SECRET_KEYS), container="shop-app-0123456789ab",
                  build="reg@sha256:1", proxy="shop-web",
                  direct_url="fcgi://127.0.0.1:9000/up", public_url="http://shop-web:80/up",
                  app_port=9000, public_volume="shop-public")  # fmt: skip


def test_release_steps_read_like_the_runbook():
    assert [s.name for s in STEPS] == [
        "contract", "ownership", "migrate", "cache-clear", "opcache-reset", "cache-rebuild",
        "workers-restart", "health", "switch", "verify", "public-prune", "retention",
    ]  # fmt: skip
    assert all(s.description for s in STEPS)


def test_every_step_targets_the_configured_host_and_container():
    t = target(docker={"host": "tcp://docker.example.com:2376"})
    where = {"switch": "shop-web", "public-prune": "reg@sha256:1"}  # proxy; a job of the new image
    for step in STEPS:
        for argv in step.argv(t):
            if step.name == "retention":  # a script of docker commands, given the engine
                assert argv[:3] == ["sh", "-s", "--"], argv
                assert argv[3:6] == ["5", REPO, "tcp://docker.example.com:2376"], argv
                assert step_script(step, t).endswith(" < components/scripts/retention.sh")
                continue
            assert argv[:3] == ["docker", "--host", "tcp://docker.example.com:2376"], step.name
            assert where.get(step.name, "shop-app-0123456789ab") in argv, step.name
        assert step_script(step, t)


def test_over_ssh_every_step_runs_docker_on_the_pinned_server_in_one_shared_connection():
    t = target(docker={"host": SSH, "known_hosts": [KNOWN]})
    for step in STEPS:
        for argv in step.argv(t):
            assert argv[0] == "ssh", step.name
            assert set(argv[1:-7:2]) == {"-o"}, argv  # only options before the target
            assert argv[-7:-1] == ["-p", "2222", "-l", "deploy", "--", "vps.example.com"]
            remote = shlex.split(argv[-1])  # the server's shell sees exactly the docker argv
            if step.name == "retention":  # the script runs on the server, its default engine
                assert remote[:3] == ["sh", "-s", "--"] and remote[3:6] == ["5", REPO, ""], remote
                # the script goes through ssh on its stdin, from the project
                assert step_script(step, t).endswith(" < components/scripts/retention.sh")
                continue
            assert remote[0] == "docker" and "--host" not in remote, step.name
        assert step_script(step, t)
    [argv] = next(s for s in STEPS if s.name == "opcache-reset").argv(t)
    assert "StrictHostKeyChecking=yes" in argv and "StrictHostKeyChecking=no" not in argv
    control = next(a for a in argv if a.startswith("ControlPath="))
    assert control.startswith("ControlPath=/tmp/laravel-stack-shop-") and control.endswith("-%C")
    # other pins, another master: a shared connection is never reused under a changed pin
    other = commands.engine(SSH, [KNOWN.replace("AAAAC3", "AAAAC4")], True, "shop")
    assert control not in other.ssh_options


def test_ssh_options_trust_only_the_pinned_lines_and_never_prompt():
    lines = [KNOWN, "vps.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoq"]
    opts = commands.ssh_options(lines, None)
    values = opts[1::2]
    assert set(opts[::2]) == {"-o"}
    assert {"UserKnownHostsFile=/dev/null", "GlobalKnownHostsFile=/dev/null",
            "StrictHostKeyChecking=yes", "BatchMode=yes"} <= set(values)  # fmt: skip
    assert not any(v.startswith("Control") for v in values)
    # KnownHostsCommand, run as ssh runs it (%% -> %, split without a shell): prints the lines.
    command = next(v for v in values if v.startswith("KnownHostsCommand="))
    argv = shlex.split(command.removeprefix("KnownHostsCommand=").replace("%%", "%"))
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == lines


def test_docker_over_ssh_quotes_the_remote_command():
    e = commands.engine(SSH, [KNOWN], False, "shop")
    argv = commands.docker(e, "exec", "c", "sh", "-c", 'echo "$1"; id', "a b; rm -rf /")
    assert argv[-3:-1] == ["--", "vps.example.com"]
    assert shlex.split(argv[-1]) == ["docker", "exec", "c", "sh", "-c", 'echo "$1"; id',
                                     "a b; rm -rf /"]  # fmt: skip
    local = commands.engine("unix:///var/run/docker.sock", [KNOWN], True, "shop")
    assert local.ssh_options == () and commands.docker(local, "ps")[:3] == [
        "docker", "--host", "unix:///var/run/docker.sock"]  # fmt: skip


def test_health_step_checks_the_deployed_build():
    steps = {s.name: s for s in STEPS}
    [direct] = steps["health"].argv(target())
    assert direct[5:7] == ["www-data", "shop-app-0123456789ab"]
    assert direct[-8:] == ["fcgi://127.0.0.1:9000/up", "200", "build", "reg@sha256:1", "30", "2",
                           "5", "/var/www/html/public/index.php"]  # fmt: skip
    [public] = steps["verify"].argv(target())
    assert public[-8] == "http://shop-web:80/up"


def test_switch_points_the_proxy_at_the_new_container_and_reloads_gracefully(tmp_path):
    [argv] = next(s for s in STEPS if s.name == "switch").argv(target())
    assert argv[:7] == ["docker", "--host", "unix:///var/run/docker.sock", "exec", "--user", "0",
                        "shop-web"]  # fmt: skip
    assert argv[-2:] == [files.UPSTREAM_FILE, "set $app_upstream shop-app-0123456789ab:9000;"]
    # The script for real, with a fake nginx that records its calls.
    log = tmp_path / "log"
    fake = tmp_path / "nginx"
    fake.write_text(f'#!/bin/sh\necho "nginx $*" >> {log}\n')
    fake.chmod(0o755)
    conf = tmp_path / "etc" / "upstream.conf"
    res = subprocess.run(
        ["sh", "-c", commands.PROXY_SWITCH_SH, "switch", str(conf), "set $x y;"],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert conf.read_text() == "set $x y;\n"
    assert log.read_text().splitlines() == ["nginx -t -q", "nginx -s reload"]


def test_php_ini_is_production():
    ini = files.php_ini(DEFAULT_PHP_INI)
    assert "opcache.validate_timestamps = 0" in ini.splitlines()
    assert "opcache.enable = 1" in ini.splitlines()


def test_nginx_passes_php_to_the_app_container_and_serves_public():
    conf = files.nginx_conf("/var/www/html", "fpm")
    assert "root /var/www/html/public;" in conf
    assert "fastcgi_pass $app_upstream;" in conf
    # points nowhere until the first switch, then at whatever the included file names
    assert conf.index("set $app_upstream 127.0.0.1:1;") < conf.index(
        f"include {files.UPSTREAM_DIR}/*.conf;"
    )
    assert "fastcgi_param SCRIPT_FILENAME /var/www/html/public/index.php;" in conf
    octane = files.nginx_conf("/var/www/html", "octane")
    assert "proxy_pass http://$app_upstream;" in octane and "fastcgi_pass" not in octane


def test_worker_command_clears_baked_caches_then_execs_the_worker(tmp_path):
    argv = commands.worker_command(["php", "artisan", "queue:work", "--sleep=3"])
    assert argv[-4:] == ["php", "artisan", "queue:work", "--sleep=3"]
    # Run it with a fake `php` on PATH: the clears run in order, then the worker replaces sh.
    log = tmp_path / "log"
    fake = tmp_path / "php"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    subprocess.run(argv, check=True, env=env)
    assert log.read_text().splitlines() == [
        "artisan config:clear --quiet", "artisan route:clear --quiet",
        "artisan event:clear --quiet", "artisan queue:work --sleep=3",
    ]  # fmt: skip


def test_migrations_never_run_on_a_baked_config_cache():
    migrate = next(s for s in STEPS if s.name == "migrate")
    clear, run = migrate.argv(target())
    assert clear[-2:] == ["config:clear", "--no-interaction"]
    assert run[-3:] == ["migrate", "--force", "--no-interaction"]


def _in_own_pid_namespace(script: str) -> subprocess.CompletedProcess:
    # Its own /proc: on the host, /proc also lists the FPM masters of running containers.
    return subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def test_fpm_reload_signals_the_fpm_master_from_inside(tmp_path):
    reload_sh = commands.SCRIPTS / "fpm_reload.sh"
    # A stand-in master: the process title FPM sets; SIGUSR2 ends it (no handler).
    res = _in_own_pid_namespace(
        f"bash -c 'exec -a \"php-fpm: master process (/etc/php/fpm.conf)\" sleep 20' & "
        f"sleep 0.3; sh {reload_sh}; echo rc=$?; wait $!; echo master=$?"
    )
    assert "opcache-reset: PHP-FPM master (pid " in res.stdout, res
    assert "rc=0" in res.stdout and f"master={128 + 12}" in res.stdout, res.stdout  # SIGUSR2
    none = _in_own_pid_namespace(f"sh {reload_sh}")
    assert none.returncode == 1
    assert "no PHP-FPM master process runs in the container" in none.stderr


def test_a_failing_steps_command_is_one_short_line():
    # A failure prints `running "<command>"` before the step's own output: no inlined script may
    # push the cause out of the first lines (issue 17). Over ssh each command adds the pinned
    # host key's options (~370 characters, and quoting), nothing else.
    for t, limit in ((target(), 320), (target(docker={"host": SSH, "known_hosts": [KNOWN]}), 800)):
        for step in STEPS:
            for argv in step.argv(t):
                line = commands.script(argv)
                assert "\n" not in line and len(line) <= limit, (step.name, len(line), line)
