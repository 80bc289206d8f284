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
app=${3%/public/index.php} # the probe's SCRIPT: the app root ("" when not given)

probe() { # $1 container, $2 build, $3 tries, $4... the probe's other arguments
  c=$1 b=$2 t=$3
  shift 3
  docker exec --user "$user" "$c" php "$lib/health_probe.php" "$url" "$status" "$field" "$b" \
    "$t" "$@"
}

major() { # $1 container: the major version of its Laravel ("" when unknown)
  [ -n "$1" ] && [ -n "$app" ] || return 0
  docker exec --user "$user" --workdir "$app" "$1" php artisan --version 2> /dev/null \
    | sed -n 's/^Laravel Framework \([0-9][0-9]*\)\..*/\1/p'
}

# A release that changes Laravel's major version (the two containers' own `artisan --version`):
# majors change the default cache and Redis prefixes and the session cookie's name, so a switch
# would log every user out and drop the cache unless the old values are pinned.
upgrade_warning() { # $1 the container that served before
  old=$(major "$1") new=$(major "$container")
  [ -n "$old" ] && [ -n "$new" ] && [ "$old" != "$new" ] || return 0
  printf '; warning: Laravel %s -> %s: pin CACHE_PREFIX, REDIS_PREFIX and SESSION_COOKIE to the old build'"'"'s values (app.extra_env), or users are logged out and the cache is dropped' "$old" "$new"
}

logs() { # $1 container: its last log lines, as app_probe.sh shows them
  echo "the last lines the app container logged (docker logs $1):" >&2
  docker logs --tail 300 "$1" 2>&1 | awk '
    /NOTICE: / { next }
    /^(\[[0-9]|\{)/ { r[++n] = $0; next }
    !/^(#[0-9]+ |\[stacktrace\]|\[previous exception\]|"\}$)/ { o[++m] = $0 }
    END { if (!n) { for (i in o) r[i] = o[i]; n = m }; for (i = n > 5 ? n - 4 : 1; i <= n; i++) print r[i] }' \
    | cut -c1-240 | sed 's/^/  log| /' >&2
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
    switched=$(docker exec --user 0 "$proxy" sh "$lib/proxy_switch.sh" to "$container" "$port" \
      "$build") || back "$@"
    was=$(printf '%s\n' "$switched" | sed -n 's/^previous: .* container=//p')
    # A wrong status or no answer (the probe's exit 3): what the app logged, then back.
    receipt=$(probe "$container" "$build" "$tries" "$@") \
      || { [ $? -ne 3 ] || logs "$container"; back "$@"; }
    echo "$receipt$(upgrade_warning "$was")"
    ;;
  back) back "$@" ;;
  *)
    echo "usage: release_switch.sh ENGINE verify|back PROXY USER CONTAINER PORT BUILD PROBE..." >&2
    exit 2
    ;;
esac
