# shellcheck shell=sh
# The release's steps past the switch, where the deploy engine's docker CLI is (this machine, or
# the server over ssh):
#
#   verify  the proxy serves the new build (the switch again: a no-op unless a failure switched
#           back), and, asked through the public entry point from the new container, it answers
#           with the deployed build; when not: back
#   back    the proxy serves what it served before the release again (a graceful reload), and
#           that build, asked from its own container through the public entry point, answers;
#           always exits 1 (the release failed), saying "switched back to <build>"; in
#           maintenance (release.maintenance), out of it first (what `artisan up` removes)
#
# $1 the engine (DOCKER_HOST; empty: the CLI's default), $2 the mode, $3 the proxy container,
# $4 the web user, $5 the new app container, $6 its port, $7 the build, $8 the app root when
# the release runs in maintenance ("" otherwise), $9... the probe's arguments after the build
# (health_probe.php): URL STATUS FIELD TRIES INTERVAL TIMEOUT SCRIPT [CAFILE WARN_DAYS]. A
# switched-back build gets up to 5 tries.
set -u
[ -z "$1" ] || export DOCKER_HOST="$1"
mode=$2 proxy=$3 user=$4 container=$5 port=$6 build=$7 root=$8
shift 8
url=$1 status=$2 field=$3 tries=$4
shift 4
lib=/usr/local/lib/laravel-stack

probe() { # $1 container, $2 build, $3 tries, $4... the probe's other arguments
  c=$1 b=$2 t=$3
  shift 3
  docker exec --user "$user" "$c" php "$lib/health_probe.php" "$url" "$status" "$field" "$b" \
    "$t" "$@"
}

back() { # $@ the probe's other arguments
  if ! out=$(docker exec --user 0 "$proxy" sh "$lib/proxy_switch.sh" back 2>&1); then
    echo "not switched back: $out" >&2
    exit 1
  fi
  live=$(printf '%s\n' "$out" | sed -n 's/^live: //p')
  old=${live#build=}
  old=${old%% *}
  was=${live##*container=}
  lifted=""
  if [ -n "$root" ]; then
    if docker exec --user "$user" "$was" rm -f "$root/storage/framework/down" \
      "$root/storage/framework/maintenance.php"; then
      lifted="; maintenance lifted"
    else
      lifted="; NOT out of maintenance: run \`php artisan up\` in $was"
    fi
  fi
  if receipt=$(probe "$was" "$old" 5 "$@" 2>&1); then
    echo "switched back to $old ($was)$lifted: $receipt" >&2
  else
    echo "switched back to $old ($was)$lifted, which does not answer as it should: $receipt" >&2
  fi
  exit 1
}

case "$mode" in
  verify)
    docker exec --user 0 "$proxy" sh "$lib/proxy_switch.sh" to "$container" "$port" "$build" \
      > /dev/null || back "$@"
    probe "$container" "$build" "$tries" "$@" || back "$@"
    ;;
  back) back "$@" ;;
  *)
    echo "usage: release_switch.sh ENGINE verify|back PROXY USER CONTAINER PORT BUILD PROBE..." >&2
    exit 2
    ;;
esac
