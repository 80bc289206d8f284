"""Command builders: the exact text the release runs, quoting, user and Docker host."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest

from components import commands
from components.config import DEFAULT_PHP_INI
from components.core import files
from components.engine.release import STEPS, Target, step_script

from ..harness import SECRET_KEYS, valid_config

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


B1 = "reg/app@sha256:" + "1" * 64
B2 = "reg/app@sha256:" + "2" * 64
B3 = "reg/app@sha256:" + "3" * 64


def test_each_build_gets_its_own_public_dir_and_prune_keeps_the_live_and_the_previous(tmp_path):
    # The jobs' shell scripts for real, against a directory standing in for the volume.
    def build(files: dict[str, str]):
        src = tmp_path / "src"
        subprocess.run(["rm", "-rf", str(src)], check=True)
        for name, text in files.items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_text(text)
        return src

    vol = tmp_path / "volume"
    vol.mkdir()
    (vol / "old-layout.js").write_text("old")  # what the older layout left at the top
    owner = f"{os.getuid()}:{os.getgid()}"
    for b, files_ in ((B1, {"index.php": "<?php", "up": "static"}),
                      (B2, {"index.php": "<?php", "css/app.css": "body{}"})):  # fmt: skip
        res = _script("public_init.sh", str(build(files_)), str(vol), files.public_dir(b), "1",
                      owner)  # fmt: skip
        assert res.returncode == 0, res.stderr
    d1, d2 = (vol / "releases" / files.public_dir(b) for b in (B1, B2))
    # Each build has exactly its own files: build 2 removed `up`, its directory has none.
    assert (d1 / "up").exists() and not (d2 / "up").exists()
    assert (d2 / "css" / "app.css").read_text() == "body{}"
    assert str((d2 / "storage").readlink()) == "../../../storage/app/public"
    assert not list((vol / "releases").glob(".*"))  # nothing half-copied is left
    # The same build again replaces its directory whole.
    again = _script("public_init.sh", str(build({"index.php": "<?php"})), str(vol),
                    files.public_dir(B2), "1", owner)  # fmt: skip
    assert again.returncode == 0 and not (d2 / "css").exists()
    res = _script("public_init.sh", str(build({"a": "3"})), str(vol), files.public_dir(B3), "0",
                  owner)  # fmt: skip
    assert res.returncode == 0
    assert not (vol / "releases" / files.public_dir(B3) / "storage").exists()
    pruned = _script("public_prune.sh", str(vol), files.public_dir(B3), files.public_dir(B2))
    assert pruned.returncode == 0, pruned.stderr
    assert sorted(p.name for p in (vol / "releases").iterdir()) == sorted(
        [files.public_dir(B2), files.public_dir(B3)]
    )
    assert f"pruned releases/{files.public_dir(B1)}" in pruned.stdout
    assert not (vol / "old-layout.js").exists()


def test_public_init_fails_when_the_image_has_no_public_dir(tmp_path):
    dst = tmp_path / "volume"
    dst.mkdir()
    res = _script("public_init.sh", str(tmp_path / "nope"), str(dst), "x" * 16, "1", "0:0")
    assert res.returncode
    assert _script("public_prune.sh", str(tmp_path / "nope"), "x").returncode


def test_public_dir_is_the_builds_digest_and_refuses_anything_unpinned():
    assert files.public_dir(B1) == "1" * 16
    for bad in ("reg/app:v1", "reg/app@sha256:abc", "reg/app@sha256:" + "Z" * 64):
        with pytest.raises(ValueError, match="not a pinned build"):
            files.public_dir(bad)


def test_public_init_command_runs_the_new_image_once_and_removes_itself():
    argv = commands.public_init(TCP, B1, "shop-public", "/var/www/html/public", True, 33, 33)
    assert argv[:8] == ["docker", "--host", TCP.host, "run", "--rm", "--interactive", "--pull",
                        "never"]  # fmt: skip
    assert B1 in argv
    assert argv[argv.index("--volume") + 1] == "shop-public:/mnt/public"
    assert argv[-5:] == ["/var/www/html/public", "/mnt/public", "1" * 16, "1", "33:33"]
    prune = commands.public_prune(TCP, B1, "shop-public", [B1, ""])
    assert prune[:5] == argv[:5] and prune[-2:] == ["/mnt/public", "1" * 16]
    # The scripts come on stdin, from the project (the same text in every checkout).
    line = commands.script(argv)
    assert line.endswith(f" -s -- /var/www/html/public /mnt/public {'1' * 16} 1 33:33 < "
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
                  build="reg@sha256:" + "a" * 64, proxy="shop-web",
                  direct_url="fcgi://127.0.0.1:9000/up", public_url="http://shop-web:80/up",
                  app_port=9000, public_volume="shop-public")  # fmt: skip


def test_release_steps_read_like_the_runbook():
    assert [s.name for s in STEPS] == [
        "contract", "ownership", "backup", "maintenance-down", "migrate", "cache-clear",
        "opcache-reset", "cache-rebuild", "workers-restart", "health", "switch", "verify",
        "maintenance-up", "public-prune", "retention",
    ]  # fmt: skip
    assert all(s.description for s in STEPS)


def test_every_step_targets_the_configured_host_and_container():
    t = target(docker={"host": "tcp://docker.example.com:2376"})
    # the proxy; a job of the new image
    where = {"switch": "shop-web", "public-prune": "reg@sha256:" + "a" * 64}
    for step in STEPS:
        for argv in step.argv(t):
            if step.name in ("retention", "verify", "backup", "health"):  # scripts of docker
                assert argv[:3] == ["sh", "-s", "--"], argv
                engine = "tcp://docker.example.com:2376"
                assert (
                    argv[3:6]
                    == {
                        "retention": [engine, "5", REPO],
                        "verify": [engine, "verify", "shop-web"],
                        "backup": [engine, "shop-mysql", "mysql:8.0"],
                        "health": [engine, "shop-app-0123456789ab", "www-data"],
                    }[step.name]
                )
                assert " < components/scripts/" in step_script(step, t)
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
            if step.name in ("retention", "verify", "backup", "health"):  # run on the server
                want = {"retention": ["", "5", REPO], "verify": ["", "verify", "shop-web"],
                        "backup": ["", "shop-mysql", "mysql:8.0"],
                        "health": ["", "shop-app-0123456789ab", "www-data"]}[step.name]  # fmt: skip
                assert remote[:3] == ["sh", "-s", "--"] and remote[3:6] == want, remote
                # the script goes through ssh on its stdin, from the project
                assert " < components/scripts/" in step_script(step, t)
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
    # app_probe.sh on stdin: the probe in the new container, then its logs on a wrong status
    assert direct[4:6] == ["shop-app-0123456789ab", "www-data"]
    assert isinstance(direct, commands.FromScript)
    assert direct.script == "components/scripts/app_probe.sh"
    # FPM: the build the worker names in the stack's header (build_header.php), any route
    assert direct[-8:] == ["fcgi://127.0.0.1:9000/up", "200", "header:X-Laravel-Stack-Build",
                           "reg@sha256:" + "a" * 64, "30", "2", "5",
                           "/var/www/html/public/index.php"]  # fmt: skip
    [public] = steps["verify"].argv(target())
    assert public[11:14] == ["http://shop-web:80/up", "200", "header:X-Laravel-Stack-Build"]
    # the old way, kept: the JSON field of the app's own route
    [direct] = steps["health"].argv(target(health={"build_from": "body"}))
    assert direct[-6] == "build"


def _fake(tmp_path, name: str, body: str) -> None:
    fake = tmp_path / "bin" / name
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)


def test_switch_points_the_proxy_at_the_new_container_and_its_build(tmp_path):
    t = target()
    [argv] = next(s for s in STEPS if s.name == "switch").argv(t)
    assert argv[:7] == ["docker", "--host", "unix:///var/run/docker.sock", "exec", "--user", "0",
                        "shop-web"]  # fmt: skip
    assert argv[7:] == ["sh", files.PROXY_SWITCH, "to", "shop-app-0123456789ab", "9000", t.build]


def _switch(tmp_path, *args: str, nginx: str = "exit 0") -> subprocess.CompletedProcess:
    """proxy_switch.sh for real, its directory in tmp_path, a fake nginx recording its calls."""
    script = (commands.SCRIPTS / "proxy_switch.sh").read_text()
    script = script.replace("dir=/etc/nginx/laravel-stack", f"dir={tmp_path}/etc")
    _fake(tmp_path, "nginx", f'echo "nginx $*" >> {tmp_path}/log\n{nginx}')
    return subprocess.run(["sh", "-c", script, "proxy_switch.sh", *args],
                          env={"PATH": f"{tmp_path}/bin:/usr/bin:/bin"}, capture_output=True,
                          text=True)  # fmt: skip


def test_proxy_switch_records_what_served_before_and_switches_back(tmp_path):
    live = tmp_path / "etc" / "upstream.conf"
    assert _switch(tmp_path, "back").returncode == 3  # nothing served before the first release
    res = _switch(tmp_path, "to", "c1", "9000", B1)
    assert res.returncode == 0 and "previous:" not in res.stdout, res.stderr
    one = live.read_text()
    # nginx's variables: the container, and the build's own public/ (files.public_dir)
    assert one.splitlines()[1:] == ["set $app_upstream c1:9000;",
                                    f"set $app_public {files.public_dir(B1)};"]  # fmt: skip
    res = _switch(tmp_path, "to", "c2", "9000", B2)
    assert res.stdout.splitlines() == [f"switched: build={B2} container=c2",
                                       f"previous: build={B1} container=c1"]  # fmt: skip
    assert commands.switched_from(res.stdout) == B1
    assert _switch(tmp_path, "is", B2).returncode == 0
    # The files of the build it replaced are the fallback (a page of build 1 gets its assets).
    two = live.read_text()
    assert two.splitlines()[3:] == [f"set $app_public_previous {files.public_dir(B1)};"]
    # Again (a retried step): the file stays, the record of build 1 is kept, and nginx reloads
    # (a killed switch may have renamed the file without the reload).
    reloads = (tmp_path / "log").read_text().count("reload")
    res = _switch(tmp_path, "to", "c2", "9000", B2)
    assert "already live" in res.stdout and commands.switched_from(res.stdout) == B1
    assert live.read_text() == two
    assert (tmp_path / "log").read_text().count("reload") == reloads + 1
    reloads += 1
    res = _switch(tmp_path, "back")
    assert res.returncode == 0 and res.stdout == f"live: build={B1} container=c1\n"
    assert live.read_text() == one
    assert (tmp_path / "log").read_text().count("nginx -s reload") == reloads + 1
    res = _switch(tmp_path, "is", B2)
    assert res.returncode == 1 and "a failure switched back" in res.stderr
    # After a switch back, the next build falls back on build 1's files, never the failed 2's.
    res = _switch(tmp_path, "to", "c3", "9000", B3)
    assert res.returncode == 0 and commands.switched_from(res.stdout) == B1, res.stderr
    assert live.read_text().splitlines()[2:] == [
        f"set $app_public {files.public_dir(B3)};",
        f"set $app_public_previous {files.public_dir(B1)};",
    ]
    # A new container of the live build (a recreate for new env): no fallback on itself.
    res = _switch(tmp_path, "to", "c4", "9000", B3)
    assert "previous:" in res.stdout and "app_public_previous" not in live.read_text()
    assert _switch(tmp_path, "back").returncode == 0 and "c3" in live.read_text()
    one = live.read_text()
    # A config nginx refuses: the live upstream stays.
    res = _switch(tmp_path, "to", "c5", "9000", B2, nginx='[ "$1" != -t ]')
    assert res.returncode == 1 and "kept the live one" in res.stderr
    assert live.read_text() == one


def test_steps_past_verify_run_only_while_the_build_is_live_and_switch_back_on_failure():
    t = target()
    past = [s.name for s in STEPS if s.past_verify]
    assert past == ["maintenance-up", "public-prune", "retention"]
    for step in STEPS:
        line = step_script(step, t)
        if step.name not in past:
            assert "release_switch.sh" not in line or step.name == "verify", step.name
            continue
        main, back = line.split(" || ")
        assert main.startswith(f"{{ docker --host unix:///var/run/docker.sock exec --user 0 "
                               f"shop-web sh {files.PROXY_SWITCH} is {t.build} && ")  # fmt: skip
        assert back.startswith("{ sh -s -- unix:///var/run/docker.sock back shop-web www-data "
                               f"shop-app-0123456789ab 9000 {t.build} '' http://shop-web:80/up 200 "
                               "header:X-Laravel-Stack-Build 30 2 5 ")  # fmt: skip
        assert back.endswith(" < components/scripts/release_switch.sh; }"), back
    [verify] = next(s for s in STEPS if s.name == "verify").argv(t)
    assert verify[3:7] == ["unix:///var/run/docker.sock", "verify", "shop-web", "www-data"]


def _release_switch(
    tmp_path, mode: str, proxy: str, probe: str, lift: str = ""
) -> subprocess.CompletedProcess:
    """release_switch.sh for real, with a fake docker: `proxy` and `probe` are the fake's shell
    lines for the proxy's and the probe's calls."""
    _fake(
        tmp_path,
        "docker",
        f"""echo "docker $*" >> {tmp_path}/calls
case "$*" in
  *proxy_switch.sh*) {proxy} ;;
  *health_probe.php*) {probe} ;;
esac""",
    )
    with open(commands.SCRIPTS / "release_switch.sh") as stdin:
        return subprocess.run(
            ["sh", "-s", "--", "", mode, "shop-web", "www-data", "shop-app-new", "9000", B2, lift,
             "http://shop-web:80/up", "200", "build", "30", "1", "2", ""],
            stdin=stdin, env={"PATH": f"{tmp_path}/bin:/usr/bin:/bin"}, capture_output=True,
            text=True,
        )  # fmt: skip


def test_verify_switches_back_and_checks_the_old_build_from_its_own_container(tmp_path):
    lib = "/usr/local/lib/laravel-stack"
    back = f'[ "$7" = back ] && echo "live: build={B1} container=shop-app-old" || echo switched'
    # The new build answers through the proxy: nothing else happens.
    ok = _release_switch(tmp_path, "verify", back, 'echo "healthy: ${10}"')
    assert ok.returncode == 0 and ok.stdout == f"healthy: {B2}\n", ok.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        f"docker exec --user 0 shop-web sh {lib}/proxy_switch.sh to shop-app-new 9000 {B2}",
        f"docker exec --user www-data shop-app-new php {lib}/health_probe.php "
        f"http://shop-web:80/up 200 build {B2} 30 1 2 ",
    ]
    (tmp_path / "calls").unlink()
    # It does not: the cause, then back to the old build, checked from its container.
    probe = f'[ "${{10}}" = {B1} ] && echo "healthy: old" || {{ echo "static file" >&2; exit 1; }}'
    failed = _release_switch(tmp_path, "verify", back, probe)
    assert failed.returncode == 1
    assert failed.stderr == f"static file\nswitched back to {B1} (shop-app-old): healthy: old\n"
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[2] == f"docker exec --user 0 shop-web sh {lib}/proxy_switch.sh back"
    assert calls[3] == (f"docker exec --user www-data shop-app-old php {lib}/health_probe.php "
                        f"http://shop-web:80/up 200 build {B1} 5 1 2 ")  # fmt: skip
    res = _release_switch(tmp_path, "back", back, "exit 1")
    assert res.returncode == 1 and "which does not answer as it should" in res.stderr
    nothing = "echo 'nothing to switch back to: no build served' >&2; exit 3"
    res = _release_switch(tmp_path, "back", nothing, "exit 0")
    assert res.returncode == 1 and res.stderr.startswith("not switched back: nothing to switch")


def _app_probe(tmp_path, rc: int, logs: str) -> subprocess.CompletedProcess:
    """app_probe.sh for real, with a fake docker: the probe prints and exits with `rc`, the
    container's log is `logs`."""
    (tmp_path / "log").write_text(logs)
    failing = (
        'echo "attempt 1/30: fcgi://127.0.0.1:9000/up HTTP 500, build=null, want HTTP 200" >&2\n'
        '  echo "  ... the same 29 more times, until attempt 30" >&2\n'
        '  echo "health check failed: the app answered HTTP 500, not 200; what it said:" >&2\n'
        '  echo "  | Server Error" >&2\n'
    )
    _fake(
        tmp_path,
        "docker",
        f"""echo "docker $*" >> {tmp_path}/calls
case "$1" in
  exec) {failing if rc else 'echo "healthy: fcgi://127.0.0.1:9000/up HTTP 200, build=b"'}
    exit {rc} ;;
  logs) cat {tmp_path}/log ;;
esac""",
    )
    with open(commands.SCRIPTS / "app_probe.sh") as stdin:
        return subprocess.run(
            ["sh", "-s", "--", "", "shop-app-new", "www-data", "fcgi://127.0.0.1:9000/up", "200",
             "header:X-Laravel-Stack-Build", B2, "30", "2", "5", "/var/www/html/public/index.php"],
            stdin=stdin, env={"PATH": f"{tmp_path}/bin:/usr/bin:/bin"}, capture_output=True,
            text=True,
        )  # fmt: skip


#: what `docker logs` of an FPM container shows when the app logs to stderr (LOG_CHANNEL=stderr,
#: catch_workers_output = yes, decorate_workers_output = no): FPM's notices, the app's error with
#: its stack trace
APP_LOG = "\n".join([
    "[07-Dec-2026 16:00:00] NOTICE: fpm is running, pid 1",
    "[07-Dec-2026 16:00:00] NOTICE: ready to handle connections",
    '[2026-12-07 16:00:05] production.ERROR: Session store not set on request. '
    '{"exception":"[object] (RuntimeException(code: 0): Session store not set on request. at '
    '/usr/share/php/Illuminate/Http/Request.php:612)',
    "[stacktrace]",
    *(f"#{i} /usr/share/php/Illuminate/Pipeline/Pipeline.php({100 + i}): handle()"
      for i in range(40)),
    # a frame of a serialized closure (the route cache's) spans lines of source code
    "#40 laravel-serializable-closure://function (\\Illuminate\\Http\\Request $request) {",
    "                    $exception = null;",
    "                }(6): Illuminate\\Support\\Facades\\Facade::__callStatic()",
    "#41 {main}",
    '"}',
    "[07-Dec-2026 16:00:07] NOTICE: Reloading in progress ...",
]) + "\n"  # fmt: skip


def test_a_health_step_that_got_a_wrong_status_shows_the_apps_log_in_few_lines(tmp_path):
    res = _app_probe(tmp_path, 3, APP_LOG)
    assert res.returncode == 3
    lines = res.stderr.splitlines()
    assert lines[2].startswith("health check failed: the app answered HTTP 500"), lines
    assert lines[4] == "the last lines the app container logged (docker logs shop-app-new):"
    # the app's error, not FPM's notices nor the trace's 40 frames
    assert lines[5].startswith("  log| [2026-12-07 16:00:05] production.ERROR: Session store")
    assert len(lines[5]) <= len("  log| ") + 240
    assert len(lines) == 6 and len(res.stdout.splitlines() + lines) <= 15, lines
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0].startswith("docker exec --user www-data shop-app-new php "
                               "/usr/local/lib/laravel-stack/health_probe.php fcgi://")  # fmt: skip
    assert calls[1] == "docker logs --tail 300 shop-app-new"


def test_a_health_step_that_got_another_build_or_passed_shows_no_log(tmp_path):
    res = _app_probe(tmp_path, 1, APP_LOG)
    assert res.returncode == 1 and "log|" not in res.stderr
    assert "docker logs" not in (tmp_path / "calls").read_text()
    (tmp_path / "calls").unlink()
    res = _app_probe(tmp_path, 0, APP_LOG)
    assert res.returncode == 0 and res.stdout.startswith("healthy: ") and res.stderr == ""


def test_verify_warns_when_the_release_changes_laravels_major_version(tmp_path):
    switch = (
        'echo "switched: build=b container=shop-app-new"; '
        'echo "previous: build=a container=shop-app-old"'
    )
    _fake(
        tmp_path,
        "docker",
        f"""echo "docker $*" >> {tmp_path}/calls
case "$*" in
  *proxy_switch.sh*) {switch} ;;
  *health_probe.php*) echo "healthy: http://shop-web:80/up HTTP 200, build=b (attempt 1)" ;;
  *"shop-app-old php artisan --version"*) echo "Laravel Framework $OLD" ;;
  *"shop-app-new php artisan --version"*) echo "Laravel Framework 13.31.0" ;;
esac""",
    )

    def verify(old: str) -> subprocess.CompletedProcess:
        with open(commands.SCRIPTS / "release_switch.sh") as stdin:
            return subprocess.run(
                ["sh", "-s", "--", "", "verify", "shop-web", "www-data", "shop-app-new", "9000",
                 B2, "", "http://shop-web:80/up", "200", "header:X-Laravel-Stack-Build", "30",
                 "1", "2", "/var/www/html/public/index.php"],
                stdin=stdin, env={"PATH": f"{tmp_path}/bin:/usr/bin:/bin", "OLD": old},
                capture_output=True, text=True,
            )  # fmt: skip

    res = verify("12.40.1")
    assert res.returncode == 0, res.stderr
    # one line, the receipt: the check, then the warning naming the keys to pin
    assert res.stdout == (
        "healthy: http://shop-web:80/up HTTP 200, build=b (attempt 1); warning: Laravel 12 -> 13: "
        "pin CACHE_PREFIX, REDIS_PREFIX and SESSION_COOKIE to the old build's values "
        "(app.extra_env), or users are logged out and the cache is dropped\n"
    )
    calls = (tmp_path / "calls").read_text()
    assert ("docker exec --user www-data --workdir /var/www/html shop-app-old php artisan "
            "--version") in calls  # fmt: skip
    res = verify("13.2.0")  # the same major: no warning
    assert res.stdout == "healthy: http://shop-web:80/up HTTP 200, build=b (attempt 1)\n"


def test_verify_shows_the_apps_log_when_the_public_check_gets_a_wrong_status(tmp_path):
    back = f'[ "$7" = back ] && echo "live: build={B1} container=shop-app-old" || echo switched'
    probe = (
        '[ "${10}" = ' + B1 + ' ] && echo "healthy: old" || '
        '{ echo "health check failed: the app answered HTTP 500" >&2; exit 3; }'
    )
    _fake(
        tmp_path,
        "docker",
        f"""echo "docker $*" >> {tmp_path}/calls
case "$*" in
  *proxy_switch.sh*) {back} ;;
  *health_probe.php*) {probe} ;;
  logs*) echo "production.ERROR: boom" ;;
esac""",
    )
    with open(commands.SCRIPTS / "release_switch.sh") as stdin:
        res = subprocess.run(
            ["sh", "-s", "--", "", "verify", "shop-web", "www-data", "shop-app-new", "9000", B2,
             "", "http://shop-web:80/up", "200", "build", "30", "1", "2", ""],
            stdin=stdin, env={"PATH": f"{tmp_path}/bin:/usr/bin:/bin"}, capture_output=True,
            text=True,
        )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        "health check failed: the app answered HTTP 500",
        "the last lines the app container logged (docker logs shop-app-new):",
        "  log| production.ERROR: boom",
        f"switched back to {B1} (shop-app-old): healthy: old",
    ]


def test_php_ini_is_production():
    ini = files.php_ini(DEFAULT_PHP_INI)
    assert "opcache.validate_timestamps = 0" in ini.splitlines()
    assert "opcache.enable = 1" in ini.splitlines()


def test_nginx_passes_php_to_the_app_container_and_serves_public():
    conf = files.nginx_conf("/var/www/html", "fpm")
    assert "root /var/www/html/public/releases/$app_public;" in conf
    # a file the live build lacks: the previous build's, then the app
    assert "try_files $uri $uri/ @previous;" in conf
    assert "root /var/www/html/public/releases/$app_public_previous;" in conf
    assert "try_files $uri /index.php?$query_string;" in conf
    assert conf.index("set $app_public_previous none;") < conf.index("include")
    assert "fastcgi_pass $app_upstream;" in conf
    # points nowhere until the first switch, then at whatever the included file names
    assert conf.index("set $app_upstream 127.0.0.1:1;") < conf.index(
        f"include {files.UPSTREAM_DIR}/*.conf;"
    )
    assert "fastcgi_param SCRIPT_FILENAME /var/www/html/public/index.php;" in conf
    octane = files.nginx_conf("/var/www/html", "octane")
    assert "proxy_pass http://$app_upstream;" in octane and "fastcgi_pass" not in octane
    assert "try_files $uri @previous;" in octane and "try_files $uri @octane;" in octane


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


DB = commands.Database("shop-mysql", "mysql:8.0", "shop-internal", "laravel", "shop-backups",
                       "acme/prod")  # fmt: skip


def _host_script(tmp_path, script: str, args: list[str], docker: str):
    """A host-side script for real (`sh -s`, as the chain runs it) with a fake docker."""
    _fake(tmp_path, "docker", f'echo "docker $*" >> {tmp_path}/calls\n{docker}')
    with open(commands.SCRIPTS / script) as stdin:
        return subprocess.run(["sh", "-s", "--", *args], stdin=stdin, capture_output=True,
                              text=True, env={"PATH": f"{tmp_path}/bin:/usr/bin:/bin"})  # fmt: skip


def test_backup_passes_the_password_on_a_pipe_never_on_a_command_line(tmp_path):
    argv = commands.backup(TCP, DB, B1, 5)
    assert argv[3:] == [TCP.host, "shop-mysql", "mysql:8.0", "shop-internal", "laravel",
                        "shop-backups", "acme/prod", B1, "5"]  # fmt: skip
    assert commands.script(argv).endswith(" < components/scripts/backup.sh")
    # The fake engine: the MySQL container's env, and a one-shot that keeps what it was given.
    docker = f"""case "$*" in
  *"printenv MYSQL_USER"*) echo laravel ;;
  *"printenv MYSQL_PASSWORD"*) echo 's3cret pa$$' ;;
  run*) cat > {tmp_path}/stdin; echo 1234 ;;
esac"""
    res = _host_script(tmp_path, "backup.sh", argv[3:], docker)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "stdin").read_text() == "s3cret pa$$\n"
    calls = (tmp_path / "calls").read_text()
    assert "s3cret" not in calls + res.stdout + res.stderr
    run = calls[calls.index("docker run ") :]
    assert "--network shop-internal" in run and "--volume shop-backups:/backups" in run
    name = commands.backup_name(res.stdout)
    assert re.fullmatch(r"\d{8}T\d{6}Z-1{16}\.sql\.gz", name), res.stdout
    assert res.stdout.startswith(f"backup: {name} (1234 bytes, ")
    assert commands.backup_name("backup: failed") == ""


def test_backup_job_keeps_n_and_refuses_a_failed_or_incomplete_dump(tmp_path):
    # The one-shot's own script (in backup.sh), run here with fake dump tools and a directory
    # for the volume.
    text = (commands.SCRIPTS / "backup.sh").read_text()
    dump = text.split("dump='", 1)[1].split("'\n", 1)[0].replace("/backups", str(tmp_path / "b"))
    (tmp_path / "b").mkdir()
    for i in range(6):
        (tmp_path / "b" / f"2026010{i}T000000Z-{'0' * 16}.sql.gz").write_text("old")
    (tmp_path / "b" / "notes.txt").write_text("not a backup")

    def run(tool: str):
        _fake(tmp_path, "mysqldump", tool)
        env = {"PATH": f"{tmp_path}/bin:/usr/bin:/bin", "MYSQL_USER": "laravel"}
        return subprocess.run(["sh", "-c", dump, "backup", "shop-mysql", "laravel",
                               f"20261201T000000Z-{'1' * 16}.sql.gz", "-- header", "3"],
                              input="pw\n", capture_output=True, text=True, env=env)  # fmt: skip

    ok = run('[ "$MYSQL_PWD" = pw ] || exit 9\necho "CREATE TABLE t (a int);"\n'
             'echo "-- Dump completed on 2026-12-01"')  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    kept = sorted(p.name for p in (tmp_path / "b").iterdir())
    assert kept == ["20260104T000000Z-0000000000000000.sql.gz",
                    "20260105T000000Z-0000000000000000.sql.gz",
                    f"20261201T000000Z-{'1' * 16}.sql.gz", "notes.txt"]  # fmt: skip
    gz = tmp_path / "b" / f"20261201T000000Z-{'1' * 16}.sql.gz"
    text = subprocess.run(["gzip", "-dc", str(gz)], capture_output=True, text=True).stdout
    assert text.splitlines()[0] == "-- header" and "CREATE TABLE t" in text
    gz.unlink()
    failed = run('echo "CREATE TABLE t (a int);"\necho "denied" >&2\nexit 2')
    assert failed.returncode == 1 and "the dump failed (exit 2)" in failed.stderr
    cut = run('echo "CREATE TABLE t (a int);"')  # no trailer: cut short
    assert cut.returncode == 1 and "incomplete" in cut.stderr
    assert not gz.exists() and not list((tmp_path / "b").glob("*.partial"))


def test_restore_refuses_another_stacks_or_databases_backup(tmp_path):
    name = f"20261201T000000Z-{'1' * 16}.sql.gz"
    argv = commands.restore(UNIX, DB, name)
    assert commands.script(argv).endswith(" < components/scripts/restore.sh")

    def restore(header: str, backup: str = name):
        (tmp_path / "calls").unlink(missing_ok=True)
        docker = f"""case "$*" in
  *"gzip -dc"*"head -n 1"*) echo '{header}' ;;
  *printenv*) echo pw ;;
  *) cat > /dev/null ;;
esac"""
        args = [*argv[3:-1], backup]
        return _host_script(tmp_path, "restore.sh", args, docker)

    other = restore(f"-- laravel-stack backup: stack=acme/staging database=laravel build={B1}")
    assert other.returncode == 1 and "refused" in other.stderr
    assert "printenv" not in (tmp_path / "calls").read_text()  # nothing was touched
    db = restore(f"-- laravel-stack backup: stack=acme/prod database=other build={B1}")
    assert db.returncode == 1 and "refused" in db.stderr
    bad = restore("", "../../etc/passwd")
    assert bad.returncode == 2 and "not a backup's name" in bad.stderr
    ok = restore(f"-- laravel-stack backup: stack=acme/prod database=laravel build={B1} taken=x")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"restored {name} (build {B1}) into laravel of acme/prod")


def test_maintenance_keeps_the_secret_off_every_command_line_and_a_failure_lifts_it():
    t = target(release={"maintenance": True, "maintenance_retry": 30,
                        "maintenance_secret": "let-me-in-0123456789"})  # fmt: skip
    by = {s.name: s for s in STEPS}
    [down] = by["maintenance-down"].argv(t)
    assert down[-4:] == ["php", "/usr/local/lib/laravel-stack/maintenance.php", "down", "30"]
    lines = {s.name: step_script(s, t) for s in STEPS}
    assert not any("let-me-in" in line for line in lines.values())
    # From `maintenance-down` to `switch`: a failure ends maintenance (as `artisan up` does,
    # without booting the build), says so, and fails.
    for name in ("maintenance-down", "migrate", "cache-clear", "health", "switch"):
        lift = lines[name].split(" || ")[1]
        assert lift == (
            "{ docker --host unix:///var/run/docker.sock exec --user www-data "
            "shop-app-0123456789ab rm -f /var/www/html/storage/framework/down "
            "/var/www/html/storage/framework/maintenance.php; echo 'laravel-stack: the release "
            "failed in maintenance: maintenance lifted, the build that served before serves "
            "again' >&2; exit 1; }"
        ), name
    assert " || " not in lines["contract"] and " || " not in lines["backup"]
    # verify's switch back, and every later step's, end it too (the app root to lift it in).
    for name in ("verify", "maintenance-up", "retention"):
        assert f"{t.build} /var/www/html http://shop-web:80/up" in lines[name], name
    off = target()
    assert f"{off.build} '' http://shop-web:80/up" in step_script(by["verify"], off)
    assert "maintenance" not in off.cfg.steps()


def test_a_failing_step_in_maintenance_lifts_it_for_real(tmp_path):
    line = commands.or_lift("false", ["rm", "-f", str(tmp_path / "down")])
    (tmp_path / "down").write_text("{}")
    res = subprocess.run(["sh", "-c", line], capture_output=True, text=True)
    assert res.returncode == 1 and not (tmp_path / "down").exists()
    assert "maintenance lifted" in res.stderr
    ok = subprocess.run(["sh", "-c", commands.or_lift("true", ["false"])], capture_output=True)
    assert ok.returncode == 0 and ok.stderr == b""


def test_switch_back_in_maintenance_lifts_it_in_the_old_container(tmp_path):
    back = f'[ "$7" = back ] && echo "live: build={B1} container=shop-app-old" || echo switched'
    res = _release_switch(tmp_path, "back", back, 'echo "healthy: ${10}"', lift="/var/www/html")
    assert res.returncode == 1
    assert f"switched back to {B1} (shop-app-old); maintenance lifted: healthy: {B1}" in res.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[1] == ("docker exec --user www-data shop-app-old rm -f "
                        "/var/www/html/storage/framework/down "
                        "/var/www/html/storage/framework/maintenance.php")  # fmt: skip
