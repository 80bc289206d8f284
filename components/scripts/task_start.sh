# shellcheck shell=sh
# The release chain of one Swarm task, before it can get any traffic (issue 21; the swarm stack's
# building block): the app service's command, run from the files the stack mounts into every task
# (docker configs in /usr/local/lib/laravel-stack), in the app root:
#
#   sh task_start.sh WEB_UID WEB_GID [--web-user] -- CMD...
#
# In the field notes' order, for every task, a task Swarm reschedules after a node loss too:
#   1. the caches this container holds are cleared (config, routes, views, events: a cache baked
#      into the image, or written by another build, is never served);
#   2. they are rebuilt with this task's env (config:cache, route:cache, view:cache, event:cache),
#      as the web user (as root, the files would be root's: incident B);
#   3. CMD is exec'd: a new PHP-FPM master, whose OPcache starts empty, compiles what 2 wrote
#      (`--web-user`: as the web user, for a worker whose image runs as root).
# The task's health check (health_probe.php: the served build must be the task's APP_BUILD) then
# gates its entry into `tasks.<service>` DNS, hence any request from nginx. The shared
# application cache is the release's (a cluster step clears it once), not each task's.
# A failure ends the task (exit 1, the step named): Swarm starts another, and a rollout's
# failure action applies.
set -eu

AS_WEB=0
if [ "$#" -ge 3 ] && [ "$3" = "--web-user" ]; then
  AS_WEB=1
  uid=$1 gid=$2
  shift 3
  set -- "$uid" "$gid" "$@"
fi
if [ "$#" -lt 4 ] || [ "$3" != "--" ]; then
  echo "usage: task_start.sh WEB_UID WEB_GID [--web-user] -- CMD..." >&2
  exit 2
fi
WEB_UID=$1 WEB_GID=$2
shift 3
HERE=$(dirname "$0")

# The secret part of the env (APP_KEY, DB_PASSWORD) is a docker secret, not in the service spec
# (where `docker service inspect` and a preview would show it): KEY='value' lines.
if [ -n "${LARAVEL_STACK_SECRET_ENV:-}" ]; then
  [ -r "$LARAVEL_STACK_SECRET_ENV" ] \
    || { echo "task start: the secret env ${LARAVEL_STACK_SECRET_ENV} is not readable" >&2; exit 1; }
  set -a
  # shellcheck disable=SC1090 # the stack writes it (swarm/commands.py secret_env)
  . "$LARAVEL_STACK_SECRET_ENV"
  set +a
fi

# Artisan commands in one boot (artisan_batch.php), as the web user.
as_web() {
  if [ "$(id -u)" = "$WEB_UID" ]; then
    php "$HERE/artisan_batch.php" "$@"
  else
    setpriv --reuid="$WEB_UID" --regid="$WEB_GID" --clear-groups -- php "$HERE/artisan_batch.php" "$@"
  fi
}

as_web config:clear route:clear view:clear event:clear \
  || { echo "task start: clearing the caches failed" >&2; exit 1; }
as_web config:cache route:cache view:cache event:cache \
  || { echo "task start: rebuilding the caches failed" >&2; exit 1; }
echo "task start: caches cleared and rebuilt for ${APP_BUILD:-?}; starting $1"
if [ "$AS_WEB" = 1 ] && [ "$(id -u)" != "$WEB_UID" ]; then
  set -- setpriv --reuid="$WEB_UID" --regid="$WEB_GID" --clear-groups -- "$@"
fi
# A stopping task leaves `tasks.<app>` DNS at once, but nginx may still send it requests for the
# second its resolver caches the name: with LARAVEL_STACK_DRAIN_SECONDS the stop signal reaches
# the command only that long after it came, and until then it serves (a graceful FPM stop keeps
# its socket open without accepting: a request arriving then would hang).
if [ "${LARAVEL_STACK_DRAIN_SECONDS:-0}" -gt 0 ]; then
  # (sh starts it with SIGQUIT ignored, as any background command; PHP-FPM installs its own
  # handler, so the forwarded QUIT is still its graceful stop)
  "$@" &
  child=$!
  traps=0
  # shellcheck disable=SC2064 # expand now: the child's pid
  trap "traps=\$((traps + 1)); sleep ${LARAVEL_STACK_DRAIN_SECONDS}; kill -QUIT ${child} 2>/dev/null" QUIT
  # shellcheck disable=SC2064
  trap "traps=\$((traps + 1)); sleep ${LARAVEL_STACK_DRAIN_SECONDS}; kill -TERM ${child} 2>/dev/null" TERM
  # A trapped signal ends `wait` early (status > 128): wait again, for the child's own status
  # (the shell keeps it until waited for, even once it has reaped the child itself).
  seen=0
  while :; do
    wait "$child" && status=0 || status=$?
    if [ "$status" -le 128 ] || [ "$traps" -eq "$seen" ]; then break; fi
    seen=$traps
  done
  exit "$status"
fi
# The service's command replaces the image's entrypoint: keep tini as PID 1 where the image has
# it (signals reach PHP, zombies are reaped).
if command -v tini >/dev/null 2>&1; then exec tini -- "$@"; fi
exec "$@"
