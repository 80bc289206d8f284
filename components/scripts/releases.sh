# shellcheck shell=sh
# Runs where the deploy engine's docker CLI is (this machine for unix:// and tcp://, the server
# over ssh). The stack's releases volume on the deploy engine keeps what the release chain
# needs beyond one `pulumi up` (history.jsonl, and notify.json: the webhooks, written by the
# stack's notify-config step), through a one-shot of IMAGE (on the engine already):
#
#   releases.sh ENGINE event VOLUME IMAGE PROXY EVENT
#
# EVENT, one JSON object, is appended to history.jsonl (the last 200 kept); without a
# "previous" key it gets the build PROXY serves (before the switch, or after a switch back: the
# one that served before this release). Prints the event as recorded, then notify.json.
# ENGINE is DOCKER_HOST (empty: the CLI's default).
set -eu
[ -z "$1" ] || export DOCKER_HOST="$1"
mode=$2 volume=$3 image=$4
oneshot() { # the in-container script $1, stdin passed through
  docker run --rm -i --pull never --network none --log-driver none --user 0 \
    --volume "$volume:/releases" --entrypoint sh "$image" -c "$1"
}
case "$mode" in
  event)
    proxy=$5 line=$6
    case "$line" in
      *'"previous":'*) ;;
      *)
        live=$(docker exec "$proxy" sed -n 's/^# laravel-stack release: build=\([^ ]*\).*/\1/p' \
          /etc/nginx/laravel-stack/upstream.conf 2> /dev/null || true)
        line="${line%\}}, \"previous\": \"$live\"}"
        ;;
    esac
    printf '%s\n' "$line" | oneshot 'cat >> /releases/history.jsonl
      tail -n 200 /releases/history.jsonl > /releases/history.next
      mv /releases/history.next /releases/history.jsonl
      tail -n 1 /releases/history.jsonl
      cat /releases/notify.json 2> /dev/null || true'
    ;;
  *)
    echo "releases.sh: no mode $mode (event)" >&2
    exit 2
    ;;
esac
