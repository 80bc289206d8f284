# shellcheck shell=sh
# The release chain of one Swarm task, before it can get any traffic (issue 21; the swarm stack's
# building block): the app service's command, run from the files the stack mounts into every task
# (docker configs in /usr/local/lib/laravel-stack), in the app root:
#
#   sh task_start.sh WEB_UID WEB_GID -- CMD...
#
# In the field notes' order, for every task, a task Swarm reschedules after a node loss too:
#   1. the caches this container holds are cleared (config, routes, views, events: a cache baked
#      into the image, or written by another build, is never served);
#   2. they are rebuilt with this task's env (config:cache, route:cache, view:cache, event:cache),
#      as the web user (as root, the files would be root's: incident B);
#   3. CMD is exec'd: a new PHP-FPM master, whose OPcache starts empty, compiles what 2 wrote.
# The task's health check (health_probe.php: the served build must be the task's APP_BUILD) then
# gates its entry into `tasks.<service>` DNS, hence any request from nginx. The shared
# application cache is the release's (a cluster step clears it once), not each task's.
# A failure ends the task (exit 1, the step named): Swarm starts another, and a rollout's
# failure action applies.
set -eu

if [ "$#" -lt 4 ] || [ "$3" != "--" ]; then
  echo "usage: task_start.sh WEB_UID WEB_GID -- CMD..." >&2
  exit 2
fi
WEB_UID=$1 WEB_GID=$2
shift 3
HERE=$(dirname "$0")

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
exec "$@"
