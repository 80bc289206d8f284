"""Pure command builders: argv lists composed from validated values, joined with shlex at the edge.

Nothing here touches Pulumi, so every command the release runs is unit-tested as text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .files import PROXY_SWITCH, public_dir

#: scripts longer than a few lines (read once): the app container gets them as files (uploads), so
#: a step's command line stays one short line and a failure shows its cause first
SCRIPTS = Path(__file__).parent / "scripts"
#: where the app container has them (`release_scripts`), outside the app root and the image's PATH
RELEASE_SCRIPTS_DIR = "/usr/local/lib/laravel-stack"
#: the files uploaded into every app container, by name
RELEASE_SCRIPTS = (
    "contract.sh",
    "artisan_batch.php",
    "fpm_reload.sh",
    "health_probe.php",
    "build_header.php",
    "maintenance.php",
    "hook.php",
)


def release_script(name: str) -> str:
    """The path of a release script inside the app container."""
    if name not in RELEASE_SCRIPTS:
        raise ValueError(f"not a release script: {name!r}")
    return f"{RELEASE_SCRIPTS_DIR}/{name}"


def release_scripts() -> dict[str, str]:
    """path in the app container -> content, for the app container's uploads."""
    return {release_script(n): (SCRIPTS / n).read_text() for n in RELEASE_SCRIPTS}


Argv = list[str]


@dataclass(frozen=True)
class Engine:
    """A Docker engine as the release reaches it: its URL, and for ssh:// the ssh options that
    pin the host key (and share one connection), the same ones the docker provider gets."""

    host: str
    ssh_options: tuple[str, ...] = ()

    @property
    def is_ssh(self) -> bool:
        return self.host.startswith("ssh://")


def ssh_options(known_hosts: Sequence[str], control_path: str | None) -> list[str]:
    """ssh options for a pinned server: only the given known_hosts lines are trusted (never the
    user's files, never trust on first use), no prompt ever; with `control_path`, one master
    connection is shared by the provider and every release step (OpenSSH >= 8.5 on the deploying
    machine, for KnownHostsCommand)."""
    # ssh expands %% to % and splits the command itself (no shell): printf prints each line.
    printf = "/usr/bin/printf '%%s\\n' " + " ".join(shlex.quote(line) for line in known_hosts)
    opts = [
        "-o", f"KnownHostsCommand={printf}",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=10",
    ]  # fmt: skip
    if control_path:
        opts += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_path}",
                 "-o", "ControlPersist=60"]  # fmt: skip
    return opts


def engine(host: str, known_hosts: Sequence[str], multiplex: bool, stack: str) -> Engine:
    if not Engine(host).is_ssh:
        return Engine(host)
    # %C: a hash of (local host, remote host, port, user); short enough for a socket path. The
    # pinned keys are part of the name: a master opened under other pins is never reused (a
    # shared connection is not verified again).
    pins = hashlib.sha256("\n".join(known_hosts).encode()).hexdigest()[:8]
    control = f"/tmp/laravel-stack-{stack}-{pins}-%C" if multiplex else None
    return Engine(host, tuple(ssh_options(known_hosts, control)))


def ssh(target: Engine, remote: Sequence[str]) -> Argv:
    """`remote` run on the ssh server (one shell line: ssh hands the server a string)."""
    url = urlsplit(target.host)
    port = ["-p", str(url.port)] if url.port else []
    return ["ssh", *target.ssh_options, *port, "-l", url.username or "", "--", url.hostname or "",
            shlex.join(remote)]  # fmt: skip


class FromScript(list[str]):
    """An argv that reads a script of this project on its stdin (`sh -s`, through ssh too):
    `script` is relative to the project root, where Pulumi runs the program and its plugins, so
    the command text is the same in every checkout and the failing line stays short."""

    def __init__(self, argv: Sequence[str], script: str):
        super().__init__(argv)
        self.script = script


def project_script(name: str) -> str:
    path = SCRIPTS / name
    if not path.is_file():
        raise ValueError(f"no script {name!r} in {SCRIPTS}")
    return f"components/scripts/{name}"


def script(*commands: Sequence[str]) -> str:
    """One shell line that runs the commands in order and stops at the first failure."""
    return " && ".join(
        shlex.join(c) + (f" < {shlex.quote(c.script)}" if isinstance(c, FromScript) else "")
        for c in commands
    )


def docker(host: Engine, *args: str) -> Argv:
    # The engine is explicit on every call so the chain always talks to the provider's engine;
    # over ssh, with the same pinned host key (and shared connection) as the provider.
    if host.is_ssh:
        return ssh(host, ["docker", *args])
    return ["docker", "--host", host.host, *args]


def docker_exec(host: Engine, container: str, user: str, argv: Sequence[str]) -> Argv:
    return docker(host, "exec", "--user", user, container, *argv)


def artisan(host: Engine, container: str, user: str, *args: str) -> Argv:
    return docker_exec(host, container, user, ["php", "artisan", *args, "--no-interaction"])


#: the config key the app reports its build with (README: `'build' => env('APP_BUILD')`)
BUILD_CONFIG_KEY = "app.build"


def image_contract(
    host: Engine, container: str, app_root: str, fpm_port: int | None, user: str, uid: int, gid: int
) -> Argv:
    """The image contract (contract.sh), checked as root in the NEW container: each missing
    piece one line naming the Dockerfile change. `fpm_port` None (Octane) skips the FPM checks."""
    port = "" if fpm_port is None else str(fpm_port)
    args = [app_root, port, user, str(uid), str(gid), BUILD_CONFIG_KEY]
    return docker_exec(host, container, "0", ["sh", release_script("contract.sh"), *args])


def fix_ownership(host: Engine, container: str, app_root: str, uid: int, gid: int) -> Argv:
    """Chown (as root) only what the web user does not own; prints each file it fixed."""
    owner = f"{uid}:{gid}"
    dirs = [f"{app_root}/storage", f"{app_root}/bootstrap/cache"]
    find = [
        "find",
        *dirs,
        "(",
        "!",
        "-user",
        str(uid),
        "-o",
        "!",
        "-group",
        str(gid),
        ")",
    ]
    return docker_exec(host, container, "0", [*find, "-print", "-exec", "chown", owner, "{}", "+"])


def check_writable(host: Engine, container: str, app_root: str, user: str) -> list[Argv]:
    """As the web user: the directories Laravel writes caches into must be writable (one exec,
    each failure named)."""
    dirs = [f"{app_root}/{d}" for d in ("storage/framework/cache", "storage/framework/views",
                                        "bootstrap/cache")]  # fmt: skip
    return [docker_exec(host, container, user, ["sh", "-c", WRITABLE_SH, "writable", *dirs])]


WRITABLE_SH = (
    'for d; do test -w "$d" || { echo "not writable by the web user: $d" >&2; exit 1; }; done'
)


CACHE_CLEAR = ("config:clear", "route:clear", "view:clear", "event:clear", "cache:clear")
CACHE_REBUILD = ("config:cache", "route:cache", "view:cache", "event:cache")


def artisan_batch(host: Engine, container: str, user: str, *commands: str) -> Argv:
    """Artisan commands in one PHP boot (artisan_batch.php): a step pays one framework boot."""
    batch = release_script("artisan_batch.php")
    return docker_exec(host, container, user, ["php", batch, *commands])


def cache_clear(host: Engine, container: str, user: str, config_cached: bool = True) -> list[Argv]:
    """One boot once no config cache exists (the migrate step cleared it); otherwise config:clear
    first, alone: a process booted on a config cache baked into the image would clear the cache
    store that stale config names, not the one the container's env names."""
    if not config_cached:
        return [artisan_batch(host, container, user, *CACHE_CLEAR)]
    return [
        artisan(host, container, user, "config:clear"),
        artisan_batch(host, container, user, *CACHE_CLEAR[1:]),
    ]


def cache_rebuild(host: Engine, container: str, user: str) -> list[Argv]:
    # One boot is equivalent here: config:cache and route:cache each build a fresh application,
    # view:cache and event:cache read the env config this process booted on (no cache: cleared).
    return [artisan_batch(host, container, user, *CACHE_REBUILD)]


def migrate(host: Engine, container: str, user: str) -> Argv:
    return artisan(host, container, user, "migrate", "--force")


def opcache_reset(host: Engine, container: str, user: str, runtime: str) -> Argv:
    """Reset OPcache where the web workers live.

    A CLI `opcache_reset()` only clears the CLI's own cache. FPM's shared cache is dropped by a
    graceful reload of the master (SIGUSR2: workers finish their request first, bounded by
    FPM's process_control_timeout), sent from inside the container (fpm_reload.sh, as root):
    `docker kill --signal` marks the container as stopped by hand in every engine, so that an
    engine restart never starts it again (moby/moby#41302). Octane reloads its own workers.
    """
    if runtime == "fpm":
        return docker_exec(host, container, "0", ["sh", release_script("fpm_reload.sh")])
    if runtime == "octane":
        return artisan(host, container, user, "octane:reload")
    raise ValueError(f"unknown web runtime {runtime!r}")


def octane_command(port: int) -> Argv:
    """The app container's server for `web.runtime: octane`: FrankenPHP through Octane, on every
    address of its container (nginx reaches it over the network)."""
    return ["php", "artisan", "octane:frankenphp", "--host=0.0.0.0", f"--port={port}"]


# Queue workers and the scheduler have their own bootstrap/cache (from the image) and restart
# often (queue:restart, --max-time), so the chain does not exec into them: they drop whatever
# config/route/event cache the image shipped each time they start, and read the container's env.
WORKER_START_SH = (
    "php artisan config:clear --quiet && php artisan route:clear --quiet && "
    'php artisan event:clear --quiet && exec "$@"'
)


def worker_command(argv: Sequence[str]) -> Argv:
    """Wrap a worker/scheduler command so it never boots on caches baked into the image."""
    return ["sh", "-c", WORKER_START_SH, "laravel-stack-worker", *argv]


def maintenance(host: Engine, container: str, user: str, mode: str, retry: int = 0) -> Argv:
    """`artisan down` (the app's 503 page, Retry-After, the bypass secret from the container's
    env) or `artisan up` (maintenance.php)."""
    if mode not in ("down", "up"):
        raise ValueError(f"no maintenance mode {mode!r}")
    args = [mode, str(retry)] if mode == "down" else [mode]
    return docker_exec(host, container, user, ["php", release_script("maintenance.php"), *args])


#: what `artisan down` leaves in the shared storage/ (removing both is `artisan up`, without
#: booting the framework: a build that cannot boot still comes out of maintenance)
MAINTENANCE_FILES = ("storage/framework/down", "storage/framework/maintenance.php")


def maintenance_lift(host: Engine, container: str, user: str, app_root: str) -> Argv:
    files_ = [f"{app_root}/{f}" for f in MAINTENANCE_FILES]
    return docker_exec(host, container, user, ["rm", "-f", *files_])


LIFTED = (
    "laravel-stack: the release failed in maintenance: maintenance lifted, the build that "
    "served before serves again"
)


def or_lift(main: str, lift: Sequence[str]) -> str:
    """`main`; when it fails, out of maintenance (and say so), and fail."""
    return f"{{ {main}; }} || {{ {shlex.join(lift)}; echo {shlex.quote(LIFTED)} >&2; exit 1; }}"


def queue_restart(host: Engine, container: str, user: str) -> Argv:
    # Workers finish their current job, exit, and the restart policy starts them on new code.
    return artisan(host, container, user, "queue:restart")


# Runs inside the app container (PHP is there, curl may not be). The target is either
# http://host:port/path or fcgi://host:port/path: the latter speaks FastCGI straight to PHP-FPM,
# so a new container is checked before any proxy sends it traffic. It passes only if the status
# is right AND the JSON field equals the deployed build (any build when that is ""); bounded by
# tries * (timeout + interval). A response that sets a cookie passes with a warning.
HEALTH_PROBE = release_script("health_probe.php")


def probe_args(
    url: str,
    *,
    expected_status: int,
    build_field: str,
    build: str,
    retries: int,
    interval: float,
    timeout: float,
    script: str = "",
    cafile: str = "",
    warn_days: int = 0,
) -> list[str]:
    """health_probe.php's arguments. `url` is http://…, https://… or fcgi://host:port/path (then
    `script` is the front controller). For https the peer is verified (system roots, plus
    `cafile`) and the receipt names the served certificate, with a warning when it ends within
    `warn_days`."""
    args = [
        url,
        str(expected_status),
        build_field,
        build,
        str(retries),
        str(interval),
        str(timeout),
        script,
    ]
    if url.startswith("https://"):
        args += [cafile, str(warn_days)]
    return args


def health_probe(host: Engine, container: str, user: str, url: str, **probe: Any) -> Argv:
    """The probe run in `container` as `user` (`probe`: probe_args' keywords)."""
    return docker_exec(host, container, user, ["php", HEALTH_PROBE, *probe_args(url, **probe)])


def app_probe(host: Engine, container: str, user: str, args: Sequence[str]) -> Argv:
    """The `health` step (app_probe.sh): the probe in `container` with health_probe.php's
    `args`; when the app answered a wrong status or nothing, its last log lines after the
    verdict."""
    return host_script(host, "app_probe.sh", [container, user, *args])


def build_header_ini(health_path: str) -> dict[str, str]:
    """The php.ini lines of health.build_from `header`: build_header.php prepended to every
    script, naming the build on the health path (its path part: the probe's query is not)."""
    return {
        "auto_prepend_file": release_script("build_header.php"),
        "laravel_stack.health_path": '"' + health_path.split("?", 1)[0] + '"',
    }


def app_health_test(
    url: str, *, expected_status: int, build_field: str, timeout: float, script: str
) -> list[str]:
    """The app container's Docker health check, declared by the stack so an image needs no
    HEALTHCHECK (nor cgi-fcgi): the chain's own probe, once, against the container's own
    FPM/Octane, any build (which build it serves is the chain's `health` step's question)."""
    args = [url, str(expected_status), build_field, "", "1", "0", str(timeout), script]
    return ["CMD", "php", HEALTH_PROBE, *args]


PUBLIC_MOUNT = "/mnt/public"


def _public_job(host: Engine, image: str, volume: str, script: str, *args: str) -> Argv:
    """A one-shot of the new image over the public volume, its script (public_init.sh,
    public_prune.sh) read on stdin."""
    argv = docker(
        host,
        "run",
        "--rm",
        "--interactive",
        # The provider pulled this digest (with the registry login); the engine's own CLI may
        # have none, and must never pull anything else.
        "--pull",
        "never",
        "--user",
        "0",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        "--volume",
        f"{volume}:{PUBLIC_MOUNT}",
        image,
        "-s",
        "--",
        *args,
    )
    return FromScript(argv, project_script(script))


def public_init(
    host: Engine,
    image: str,
    volume: str,
    public_path: str,
    storage_link: bool,
    uid: int,
    gid: int,
) -> Argv:
    """One-shot job from the new image, into the build's own directory of the public volume; its
    exit code fails the deploy (a container's would not)."""
    link = "1" if storage_link else "0"
    args = [public_path, PUBLIC_MOUNT, public_dir(image), link, f"{uid}:{gid}"]
    return _public_job(host, image, volume, "public_init.sh", *args)


def public_prune(host: Engine, image: str, volume: str, keep: Sequence[str]) -> Argv:
    """Remove every build's public/ directory but those of the builds in `keep`."""
    dirs = [public_dir(b) for b in keep if b]
    return _public_job(host, image, volume, "public_prune.sh", PUBLIC_MOUNT, *dirs)


def proxy_switch(host: Engine, proxy: str, container: str, port: int, build: str) -> Argv:
    """Point the front proxy at `container` and the build's public/ (proxy_switch.sh)."""
    return docker_exec(host, proxy, "0", ["sh", PROXY_SWITCH, "to", container, str(port), build])


def proxy_serves(host: Engine, proxy: str, build: str) -> Argv:
    """Fails unless the front proxy serves `build` (a failure may have switched back)."""
    return docker_exec(host, proxy, "0", ["sh", PROXY_SWITCH, "is", build])


def switched_from(stdout: str) -> str:
    """The build the proxy served before the switch, from proxy_switch.sh's output ("": none)."""
    for line in stdout.splitlines():
        if line.startswith("previous: build="):
            return line.removeprefix("previous: build=").split(" ", 1)[0]
    return ""


def host_script(host: Engine, script: str, tail: Sequence[str]) -> Argv:
    """A project script run where the deploy engine's docker CLI is (`sh -s`: here, or on the
    server over ssh), its first argument the engine ("" on the server: its default)."""
    args = ["sh", "-s", "--"]
    if host.is_ssh:
        return FromScript(ssh(host, [*args, "", *tail]), project_script(script))
    return FromScript([*args, host.host, *tail], project_script(script))


def release_switch(
    host: Engine,
    mode: str,
    proxy: str,
    user: str,
    new: tuple[str, int, str],
    probe: Sequence[str],
    lift_root: str = "",
) -> Argv:
    """release_switch.sh: `verify` (the switch re-asserted, the public check, back on failure)
    or `back` (to what served before, checked; always fails). `new` is the new app container,
    its port and build; `probe` health_probe.php's arguments after the build; `lift_root` the
    app root when a switch back must also end maintenance."""
    if mode not in ("verify", "back"):
        raise ValueError(f"no release switch mode {mode!r}")
    container, port, build = new
    tail = [mode, proxy, user, container, str(port), build, lift_root, *probe]
    return host_script(host, "release_switch.sh", tail)


def hook(
    host: Engine,
    container: str,
    user: str,
    app_root: str,
    hook: Any,
) -> Argv:
    """One of release.hooks (hook.php: in the app root, bounded by its timeout, secrets in its
    output redacted), as the web user or, with as_root and its reason, as root."""
    who = "0" if hook.as_root else user
    root = ["--as-root", hook.reason] if hook.as_root else []
    php = ["php", release_script("hook.php"), hook.name, str(hook.timeout), app_root, *root]
    return docker_exec(host, container, who, [*php, "--", *hook.argv])


#: the release's one-shots on the deploy engine mount the releases volume here
RELEASES_MOUNT = "/releases"


def pull(host: Engine, build: str, platform: str | None) -> Argv:
    """pull.sh on the deploy engine's CLI: its text inline (stdin carries the login), without
    its comments."""
    lines = (SCRIPTS / "pull.sh").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.startswith("#"))
    args = ["sh", "-c", text, "pull.sh", build, platform or ""]
    if host.is_ssh:
        return ssh(host, args)
    return ["env", f"DOCKER_HOST={host.host}", *args]


def docker_config(server: str | None, username: str | None, password: str | None) -> str:
    """A docker CLI config holding one registry login (pull.sh's stdin); without a password an
    empty one: the CLI then pulls as the provider does, with no login."""
    if not (server and password):
        return "{}"
    auth = base64.b64encode(f"{username or ''}:{password}".encode()).decode()
    return json.dumps({"auths": {server: {"auth": auth}}}, sort_keys=True)


def notify_config(host: Engine, volume: str, image: str) -> Argv:
    """Write stdin (the webhooks, a secret) into the releases volume, readable by root only;
    nothing of it is printed."""
    keep = (
        f"umask 077 && cat > {RELEASES_MOUNT}/notify.json.next && "
        f"mv {RELEASES_MOUNT}/notify.json.next {RELEASES_MOUNT}/notify.json && "
        "echo 'notify config written'"
    )
    mount = f"{volume}:{RELEASES_MOUNT}"
    return docker(host, "run", "--rm", "-i", "--pull", "never", "--network", "none",
                  "--log-driver", "none", "--user", "0", "--volume", mount,
                  "--entrypoint", "sh", image, "-c", keep)  # fmt: skip


def release_event(host: Engine, volume: str, image: str, proxy: str) -> dict[str, Any]:
    """How release_step.py records an outcome on the deploy engine (releases.sh `event`; the
    event is appended as the last argument)."""
    argv = host_script(host, "releases.sh", ["event", volume, image, proxy])
    return {"argv": list(argv), "script": project_script("releases.sh"), "ssh": host.is_ssh}


def release_interpreter(context: dict[str, Any]) -> Argv:
    """The release steps' interpreter: release_step.py runs each step's command (`sh -c`) and,
    when it fails or is the chain's last step, records and posts the outcome; its exit status
    is the command's. (The command text stays the step's own: a failure names it alone.)"""
    ctx = json.dumps(context, sort_keys=True, separators=(",", ":"))
    return ["python3", project_script("release_step.py"), ctx, "--"]


def or_else(main: str, fallback: str) -> str:
    """`main`; when it fails, `fallback` (whose own exit status is the line's)."""
    return f"{{ {main}; }} || {{ {fallback}; }}"


def retention(
    host: Engine,
    keep: int,
    repository: str,
    build: str,
    tag: str,
    image: str,
    backups: str = "",
    releases: str = "",
) -> Argv:
    """Record `build` (released as `tag`; "" unknown) in the deploy engine's release history and
    keep the last `keep` builds there (retention.sh); runs where that engine's docker CLI is.
    With the `backups` volume each release names its backup; with the `releases` volume the
    output carries the recorded outcomes too (`image` lists both)."""
    return host_script(
        host, "retention.sh", [str(keep), repository, build, tag, backups, image, releases]
    )


@dataclass(frozen=True)
class Database:
    """Where a stack's database and its backups are, on the deploy engine."""

    mysql: str  # the MySQL container (its env has the app user and password)
    image: str  # the database image: the one-shots that dump and restore run it
    network: str  # the stack's network (the one-shots reach MySQL there)
    database: str
    volume: str  # the backups volume
    stack: str  # project/stack, written in and checked against each backup

    def args(self) -> list[str]:
        return [self.mysql, self.image, self.network, self.database, self.volume, self.stack]


def backup(host: Engine, db: Database, build: str, keep: int) -> Argv:
    """Dump the database into the backups volume before `migrate`, keep the last `keep`
    (backup.sh); runs where the deploy engine's docker CLI is. No password on any command line."""
    return host_script(host, "backup.sh", [*db.args(), build, str(keep)])


def restore(host: Engine, db: Database, name: str) -> Argv:
    """Restore the backup `name` (restore.sh; refuses another stack's or database's backup);
    runs where the deploy engine's docker CLI is."""
    return host_script(host, "restore.sh", [*db.args(), name])


def backup_name(stdout: str) -> str:
    """The backup a release took, from the backup step's output ("": none)."""
    found = re.search(r"^backup: (\S+\.sql\.gz) \(", stdout, re.MULTILINE)
    return found.group(1) if found else ""


#: what each release of the `releases` output says
RELEASE_KEYS = ("build", "digest", "tag", "deployed", "backup", "outcome", "duration_s", "by")
#: how many recorded outcomes the `history` output shows
HISTORY_SHOWN = 20


def events(stdout: str, limit: int | None = HISTORY_SHOWN) -> list[dict[str, Any]]:
    """The recorded release outcomes in the retention step's output, newest first."""
    out = [json.loads(line[len("event: "):]) for line in stdout.splitlines()
           if line.startswith("event: {")]  # fmt: skip
    return sorted(out, key=lambda e: str(e.get("finished", "")), reverse=True)[:limit]


def history(stdout: str) -> list[dict[str, Any]]:
    """The retention step's output -> the kept builds, newest first, each with the outcome,
    duration and author of its last successful release where the history recorded one."""
    recorded = events(stdout, None)
    out = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            done = next((e for e in recorded if e.get("build") == entry.get("build")
                         and e.get("outcome") == "succeeded"), {})  # fmt: skip
            entry = {**{k: entry.get(k, "") for k in RELEASE_KEYS},
                     "outcome": done.get("outcome", ""), "duration_s": done.get("duration_s"),
                     "by": done.get("by", "")}  # fmt: skip
            out.append(entry)
    return out


def db_healthcheck() -> list[str]:
    # A real login and query (`mysqladmin ping` succeeds even when access is denied). The
    # password is expanded inside the container from its own env: it never appears in state.
    return [
        "CMD-SHELL",
        'mysql --host=127.0.0.1 --user=root --password="$MYSQL_ROOT_PASSWORD" '
        "--execute='SELECT 1' >/dev/null",
    ]


def redis_healthcheck() -> list[str]:
    return ["CMD", "redis-cli", "ping"]
