# shellcheck shell=sh
# The swarm release's rollout wait (issue 21), run where the plain `docker` CLI reaches the
# manager (on it, over the pinned ssh connection):
#
#   rollout_wait.sh SERVICE BUILD TIMEOUT INTERVAL
#
# The provider's converge returns as soon as every replica runs. Between two tasks of a rollout
# (the update's delay) every replica runs too, one of them still the old build, so converge can
# return before the rollout is done. This waits, at most TIMEOUT seconds, for Swarm's own
# account of it: the update completed, with BUILD the service's image. A rollout Swarm rolled
# back (the service's image is no longer BUILD) fails once the rollback is done, with Swarm's
# message; a paused one fails at once.
set -eu
if [ "$#" -ne 4 ]; then
  echo "usage: rollout_wait.sh SERVICE BUILD TIMEOUT INTERVAL" >&2
  exit 2
fi
service=$1 build=$2 timeout=$3 interval=$4
format='{{.Spec.TaskTemplate.ContainerSpec.Image}}|{{if .UpdateStatus}}{{.UpdateStatus.State}}|{{.UpdateStatus.Message}}{{end}}'
start=$(date +%s)
while :; do
  out=$(docker service inspect --format "$format" "$service")
  image=${out%%|*}
  rest=${out#*|}
  state=${rest%%|*}
  message=${rest#*|}
  case "$state" in
    "" | completed)
      if [ "$image" = "$build" ]; then
        echo "rollout: ${service} runs ${build} (${state:-created})"
        exit 0
      fi
      echo "rollout: ${service} runs ${image}, not ${build}" >&2
      exit 1 ;;
    rollback_completed)
      echo "rollout: Swarm rolled ${service} back to ${image}: ${message}" >&2
      exit 1 ;;
    paused | rollback_paused)
      echo "rollout: ${service}: ${state}: ${message}" >&2
      exit 1 ;;
  esac
  if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
    echo "rollout: ${service} still ${state} after ${timeout} s: ${message}" >&2
    exit 1
  fi
  sleep "$interval"
done
