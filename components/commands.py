"""Pure command builders: argv lists composed from validated values, joined with shlex at the edge.

Nothing here touches Pulumi, so every command the release runs is unit-tested as text.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

Argv = list[str]


def script(*commands: Sequence[str]) -> str:
    """One shell line that runs the commands in order and stops at the first failure."""
    return " && ".join(shlex.join(c) for c in commands)


def docker(host: str, *args: str) -> Argv:
    # The host is explicit on every call so the chain always talks to the provider's engine.
    return ["docker", "--host", host, *args]


def docker_exec(host: str, container: str, user: str, argv: Sequence[str]) -> Argv:
    return docker(host, "exec", "--user", user, container, *argv)


def artisan(host: str, container: str, user: str, *args: str) -> Argv:
    return docker_exec(host, container, user, ["php", "artisan", *args, "--no-interaction"])


def fix_ownership(host: str, container: str, app_root: str, uid: int, gid: int) -> Argv:
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


def check_writable(host: str, container: str, app_root: str, user: str) -> list[Argv]:
    """As the web user: the directories Laravel writes caches into must be writable."""
    return [
        docker_exec(host, container, user, ["test", "-w", f"{app_root}/{d}"])
        for d in (
            "storage/framework/cache",
            "storage/framework/views",
            "bootstrap/cache",
        )
    ]


CACHE_CLEAR = (
    "config:clear",
    "route:clear",
    "view:clear",
    "event:clear",
    "cache:clear",
)
CACHE_REBUILD = ("config:cache", "route:cache", "view:cache", "event:cache")


def cache_clear(host: str, container: str, user: str) -> list[Argv]:
    return [artisan(host, container, user, cmd) for cmd in CACHE_CLEAR]


def cache_rebuild(host: str, container: str, user: str) -> list[Argv]:
    return [artisan(host, container, user, cmd) for cmd in CACHE_REBUILD]


def migrate(host: str, container: str, user: str) -> Argv:
    return artisan(host, container, user, "migrate", "--force")


def opcache_reset(host: str, container: str, user: str, runtime: str) -> Argv:
    """Reset OPcache where the web workers live.

    A CLI `opcache_reset()` only clears the CLI's own cache. FPM's shared cache is dropped by a
    graceful reload of the master (SIGUSR2: workers finish their request first, bounded by
    FPM's process_control_timeout). Octane workers are reloaded by Octane itself.
    """
    if runtime == "fpm":
        return docker(host, "kill", "--signal", "USR2", container)
    if runtime == "octane":
        return artisan(host, container, user, "octane:reload")
    raise ValueError(f"unknown web runtime {runtime!r}")


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


def queue_restart(host: str, container: str, user: str) -> Argv:
    # Workers finish their current job, exit, and the restart policy starts them on new code.
    return artisan(host, container, user, "queue:restart")


# Runs inside the app container (PHP is there, curl may not be): GET the URL until the status
# is right AND the JSON field equals the deployed build, bounded by tries * (timeout + interval).
HEALTH_PROBE_PHP = r"""
[, $url, $want, $field, $build, $tries, $interval, $timeout] = $argv;
for ($i = 1; $i <= (int) $tries; $i++) {
    $ctx = stream_context_create(['http' => ['ignore_errors' => true, 'timeout' => (float) $timeout,
        'header' => "Accept: application/json\r\n"]]);
    $http_response_header = [];
    $body = @file_get_contents($url, false, $ctx);
    $code = preg_match('{^HTTP/\S+ (\d+)}', $http_response_header[0] ?? '', $m) ? (int) $m[1] : 0;
    $got = is_string($body) ? json_decode($body, true) : null;
    foreach (explode('.', $field) as $k) { $got = is_array($got) ? ($got[$k] ?? null) : null; }
    if ($code === (int) $want && $got === $build) {
        echo "healthy: HTTP $code, $field=$got (attempt $i)\n";
        exit(0);
    }
    fwrite(STDERR, "attempt $i/$tries: HTTP $code, $field=" . json_encode($got)
        . ", want HTTP $want and $build\n");
    if ($i < (int) $tries) { usleep((int) ((float) $interval * 1e6)); }
}
fwrite(STDERR, "health check failed: the served code is not the deployed build\n");
exit(1);
""".strip()


def health_probe(
    host: str,
    container: str,
    user: str,
    url: str,
    *,
    expected_status: int,
    build_field: str,
    build: str,
    retries: int,
    interval: float,
    timeout: float,
) -> Argv:
    args = [
        url,
        str(expected_status),
        build_field,
        build,
        str(retries),
        str(interval),
        str(timeout),
    ]
    return docker_exec(host, container, user, ["php", "-r", HEALTH_PROBE_PHP, "--", *args])


# Replaces the public volume's contents with the image's public/ and adds the relative storage
# link (relative, so it resolves wherever nginx mounts the app root). $1 source, $2 target,
# $3 "1" to create the link, $4 owner.
PUBLIC_INIT_SH = r"""
set -eu
src="$1"; dst="$2"
test -d "$src"
find "$dst" -mindepth 1 -delete
cp -a "$src/." "$dst/"
if [ "$3" = 1 ]; then
  ln -sfn ../storage/app/public "$dst/storage"
  test -L "$dst/storage"
fi
chown "$4" "$dst"
echo "public-init: $(find "$dst" -mindepth 1 | wc -l) entries from $src"
""".strip()

PUBLIC_MOUNT = "/mnt/public"


def public_init(
    host: str,
    image: str,
    volume: str,
    public_path: str,
    storage_link: bool,
    uid: int,
    gid: int,
) -> Argv:
    """One-shot job from the new image; its exit code fails the deploy (a container would not)."""
    return docker(
        host,
        "run",
        "--rm",
        "--user",
        "0",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        "--volume",
        f"{volume}:{PUBLIC_MOUNT}",
        image,
        "-c",
        PUBLIC_INIT_SH,
        "public-init",
        public_path,
        PUBLIC_MOUNT,
        "1" if storage_link else "0",
        f"{uid}:{gid}",
    )


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
