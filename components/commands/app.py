"""In-container Laravel: artisan (one boot per step where it can), the image contract, ownership,
OPcache, maintenance, the health probe, hooks, and the services' health checks."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from .base import (
    Argv,
    Engine,
    docker_exec,
    host_script,
    release_script,
)


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
