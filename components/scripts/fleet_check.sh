# shellcheck shell=sh
# The swarm release's fleet check (issue 21), in a one-shot on the stack's overlay, as `sh -c`
# with health_probe.php on stdin:
#
#   fleet_check NAME WANT URL PROBE_ARGS...     (URL holds {task}: fcgi://{task}:9000/up)
#
# NAME is tasks.<service>: Docker's DNS lists exactly the running tasks whose health check
# passed. Every one of them is probed on its own address (not a sample through the entry), and
# there must be WANT of them: old tasks a rollout has not yet stopped, or missing ones, fail it
# after a bounded wait.
set -eu
name=$1 want=$2 url=$3
shift 3
cat >/tmp/laravel-stack-probe.php
n=0 tasks=""
for _ in $(seq 1 30); do
  tasks=$(getent ahostsv4 "$name" | awk '{ print $1 }' | sort -u | tr '\n' ' ')
  n=$(echo "$tasks" | wc -w)
  [ "$n" -eq "$want" ] && break
  sleep 1
done
[ "$n" -eq "$want" ] || { echo "fleet check: ${n} tasks in ${name}, want ${want}: ${tasks}" >&2; exit 1; }
for task in $tasks; do
  rc=0
  php /tmp/laravel-stack-probe.php "$(echo "$url" | sed "s/{task}/${task}/")" "$@" || rc=$?
  case $rc in
    0) ;;
    3) echo "fleet check: the task at ${task} does not answer its health check as it should (docker service logs shows what it logged)" >&2; exit 1 ;;
    *) echo "fleet check: the task at ${task} does not serve the deployed build" >&2; exit 1 ;;
  esac
done
echo "fleet check: all ${n} tasks of ${name#tasks.} serve the deployed build (${tasks% })"
