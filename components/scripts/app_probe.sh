# shellcheck shell=sh
# The `health` step, where the deploy engine's docker CLI is (this machine, or the server over
# ssh): health_probe.php in the new app container. When the app answered a wrong status or did
# not answer (the probe's exit 3), the container's last log records follow the verdict: an app
# that logs to stderr (LOG_CHANNEL=stderr) reaches them through FPM's catch_workers_output. A
# record is a line that starts with its time ("[2026-…" as Laravel and FPM write them) or is
# JSON; a stack trace's lines and FPM's notices are left out (no such record: the last lines but
# a trace's frames).
#
#   app_probe.sh ENGINE CONTAINER USER PROBE-ARGS...   (ENGINE empty: the CLI's default)
set -u
[ -z "$1" ] || export DOCKER_HOST="$1"
container=$2 user=$3
shift 3
docker exec --user "$user" "$container" php /usr/local/lib/laravel-stack/health_probe.php "$@"
rc=$?
if [ "$rc" -eq 3 ]; then
  echo "the last lines the app container logged (docker logs $container):" >&2
  docker logs --tail 300 "$container" 2>&1 | awk '
    /NOTICE: / { next }
    /^(\[[0-9]|\{)/ { r[++n] = $0; next }
    !/^(#[0-9]+ |\[stacktrace\]|\[previous exception\]|"\}$)/ { o[++m] = $0 }
    END { if (!n) { for (i in o) r[i] = o[i]; n = m }; for (i = n > 5 ? n - 4 : 1; i <= n; i++) print r[i] }' \
    | cut -c1-240 | sed 's/^/  log| /' >&2
fi
exit "$rc"
