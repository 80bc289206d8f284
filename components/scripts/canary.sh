# shellcheck shell=sh
# The swarm release's canary (issue 21): before the rollout touches the service, the new build
# runs once on the manager exactly as a task would, and must prove its build. A one-shot of the
# new digest on the overlay, its files unpacked from stdin into DIR (task_start.sh,
# artisan_batch.php, health_probe.php, the secret env):
#
#   canary.sh DIR URL STATUS FIELD BUILD TRIES INTERVAL TIMEOUT SCRIPT WEB_UID WEB_GID -- CMD...
#
# runs the task's release chain and CMD (task_start.sh) in the background, probes it
# (health_probe.php URL STATUS FIELD BUILD TRIES INTERVAL TIMEOUT SCRIPT: the task's own FPM),
# stops it, and exits with the probe's status: a build that cannot boot, or serves anything but
# the deployed digest, fails `up` here, with its own output, and the service is never updated.
set -eu
if [ "$#" -lt 13 ] || [ "${12}" != "--" ]; then
  echo "usage: canary.sh DIR URL STATUS FIELD BUILD TRIES INTERVAL TIMEOUT SCRIPT UID GID -- CMD..." >&2
  exit 2
fi
dir=$1 url=$2 want=$3 field=$4 build=$5 tries=$6 interval=$7 timeout=$8 script=$9
uid=${10} gid=${11}
shift 12
LARAVEL_STACK_SECRET_ENV="${dir}/secret.env" sh "${dir}/task_start.sh" "$uid" "$gid" -- "$@" &
pid=$!
status=0
php "${dir}/health_probe.php" "$url" "$want" "$field" "$build" "$tries" "$interval" "$timeout" \
  "$script" || status=$?
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
# The probe's verdict is above (exit 3: no answer or a wrong status; the app's own log lines are
# in this one-shot's output too, the task's FPM writes them here).
if [ "$status" -eq 3 ]; then
  echo "canary: the new build does not answer its health check as it should; the service is unchanged" >&2
elif [ "$status" -ne 0 ]; then
  echo "canary: health check failed: the new build does not serve its own build; the service is unchanged" >&2
fi
exit "$status"
