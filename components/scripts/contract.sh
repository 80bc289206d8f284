# shellcheck shell=sh
# The image contract: what the stack needs from an app image, checked inside the NEW app
# container (running, before any traffic). POSIX sh; run as root, from the file the stack uploads
# into every app container (/usr/local/lib/laravel-stack, commands.release_scripts):
#
#   docker exec -u 0 CONTAINER sh /usr/local/lib/laravel-stack/contract.sh \
#       APP_ROOT FPM_PORT WEB_USER WEB_UID WEB_GID BUILD_KEY
#
# (`docker exec -i -u 0 CONTAINER sh -s -- ARGS < contract.sh` checks an image by hand.)
#   APP_ROOT   the app in the image (/var/www/html)
#   FPM_PORT   PHP-FPM's TCP port (9000); "" skips the FPM checks (Octane)
#   WEB_USER WEB_UID WEB_GID   the web user the chain runs artisan as (www-data 33 33)
#   BUILD_KEY  the config key that reports the build (app.build)
#
# Each failure is one line on stderr saying what to change in the Dockerfile; all are reported,
# then the exit status is 1. Success prints one line on stdout. Evidence:
#   - PHP-FPM's effective config: the running master's binary (/proc/PID/exe) and config file
#     (its process title) in test mode, `php-fpm -tt -y WRAPPER -R`; the wrapper includes the
#     config and forces log_level = notice (the dump is logged at notice) and error_log =
#     /dev/null (test mode prints it on stderr anyway; nothing is appended to FPM's log file);
#   - listening sockets: /proc/net/tcp{,6} of the container;
#   - FPM workers' uid: /proc/PID/status;
#   - the build key: `php artisan config:cache` (as the web user, APP_BUILD set to a probe) writes
#     the config Laravel really builds into a private temp file (APP_CONFIG_CACHE), whose value at
#     BUILD_KEY must be the probe. The app's own bootstrap/cache is untouched.
# Nothing from the environment or the config is printed but the FPM settings its messages name.
set -eu

if [ "$#" -ne 6 ]; then
  echo "usage: contract.sh APP_ROOT FPM_PORT WEB_USER WEB_UID WEB_GID BUILD_KEY" >&2
  exit 2
fi
APP_ROOT=$1 FPM_PORT=$2 WEB_USER=$3 WEB_UID=$4 WEB_GID=$5 BUILD_KEY=$6

problems=0
fail() {
  printf 'image contract: %s\n' "$*" >&2
  problems=$((problems + 1))
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
summary=""

# ---- PHP-FPM --------------------------------------------------------------------------------
if [ -n "$FPM_PORT" ]; then
  master="" bin="" conf=""
  # The container was just started: give its FPM master up to 10 s to come up (bounded).
  waited=0
  while [ -z "$master" ] && [ "$waited" -lt 20 ]; do
    for p in /proc/[0-9]*; do
      title=$(tr '\0' ' ' < "$p/cmdline" 2> /dev/null) || continue
      case "$title" in
        "php-fpm: master process ("*)
          master=${p#/proc/}
          conf=${title#*\(}
          conf=${conf%\)*}
          bin=$(readlink "$p/exe" 2> /dev/null) || bin=""
          break ;;
      esac
    done
    [ -n "$master" ] || sleep 0.5
    waited=$((waited + 1))
  done
  [ -n "$master" ] || fail "no PHP-FPM master process runs in the container: the image's CMD must start PHP-FPM in the foreground (CMD [\"php-fpm8.2\", \"-F\"] or [\"php-fpm\", \"-F\"])"
  if [ -z "$bin" ]; then
    for b in php-fpm php-fpm8.4 php-fpm8.3 php-fpm8.2 php-fpm8.1 php-fpm8.0 \
      /usr/sbin/php-fpm* /usr/local/sbin/php-fpm*; do
      if command -v "$b" > /dev/null 2>&1; then bin=$(command -v "$b"); break; fi
    done
  fi

  # The effective config, one "SECTION<TAB>KEY<TAB>VALUE" line per setting.
  : > "$tmp/conf"
  if [ -z "$bin" ]; then
    fail "no PHP-FPM binary in the image (php-fpm, php-fpm8.x): install PHP-FPM"
  else
    if [ -n "$conf" ] && [ -f "$conf" ]; then
      printf 'include = %s\n[global]\nlog_level = notice\nerror_log = /dev/null\n' "$conf" \
        > "$tmp/fpm.conf"
      set -- -y "$tmp/fpm.conf"
    else
      set --
    fi
    "$bin" -tt -R "$@" > "$tmp/dump" 2>&1 || true
    sed -n 's/^.*NOTICE: [[:space:]]*//p' "$tmp/dump" | awk '
      /^\[.*\]$/ { sec = substr($0, 2, length($0) - 2); next }
      index($0, " = ") { i = index($0, " = "); print sec "\t" substr($0, 1, i - 1) "\t" substr($0, i + 3) }
    ' > "$tmp/conf"
  fi
  setting() { awk -F '\t' -v s="$1" -v k="$2" '($1 == s || s == "*") && $2 == k' "$tmp/conf"; }

  if [ -n "$bin" ] && ! setting global process_control_timeout | grep -q .; then
    why=$(sed -n 's/^.*ERROR: //p' "$tmp/dump" | head -n 1)
    fail "cannot read PHP-FPM's effective config (\`$bin -tt\`${why:+: $why}): fix the FPM config so that \`$bin -t\` passes as root"
  elif [ -n "$bin" ]; then
    # Pools that listen on the port, on all addresses ("9000", "0.0.0.0:9000", "[::]:9000").
    pools="" loopback="" listen_reported=""
    setting '*' listen > "$tmp/listen"
    while IFS="$(printf '\t')" read -r pool _ addr; do
      case "$addr" in
        "$FPM_PORT" | "0.0.0.0:$FPM_PORT" | "[::]:$FPM_PORT" | "*:$FPM_PORT") pools="$pools $pool" ;;
        *":$FPM_PORT") loopback="pool $pool: listen = $addr" ;;
      esac
    done < "$tmp/listen"
    if [ -z "$pools" ]; then
      listen_reported=1
      if [ -n "$loopback" ]; then
        fail "PHP-FPM listens on port $FPM_PORT of one address only ($loopback): set \`listen = $FPM_PORT\` in the pool (all addresses: the proxy is another container)"
      else
        where=$(awk -F '\t' '{ printf "%s%s: listen = %s", (NR > 1 ? ", " : ""), $1, $3 }' "$tmp/listen")
        fail "PHP-FPM does not listen on TCP port $FPM_PORT (pool $where): set \`listen = $FPM_PORT\` in the pool, e.g. in an FPM override file read after www.conf ([www] listen = $FPM_PORT)"
      fi
      checked=$(awk -F '\t' '{ print $1 }' "$tmp/listen")
    else
      checked=$pools
    fi
    for pool in $checked; do
      if [ "$(setting "$pool" clear_env | cut -f 3)" != no ]; then
        fail "pool $pool: clear_env = yes: set \`clear_env = no\` in the pool (the FPM workers must see the container env: APP_KEY, APP_BUILD, DB_*)"
      fi
      if [ "$(setting "$pool" catch_workers_output | cut -f 3)" != yes ]; then
        fail "pool $pool: catch_workers_output = no: set \`catch_workers_output = yes\` and \`decorate_workers_output = no\` in the pool (the app's log on stderr, LOG_CHANNEL=stderr, then reaches \`docker logs\`, and a failed health check shows it)"
      fi
    done
    pct=$(setting global process_control_timeout | cut -f 3)
    case "${pct%s}" in
      '' | 0 | *[!0-9]*) fail "process_control_timeout = $pct: set \`process_control_timeout = 30s\` in PHP-FPM's [global] section (a graceful reload or stop waits that long for in-flight requests)" ;;
    esac
    summary="FPM pool$pools on *:$FPM_PORT, clear_env = no, catch_workers_output = yes, process_control_timeout = $pct"
  fi

  # A LISTEN socket (state 0A) on *:PORT in the container's network namespace (not reported
  # again when the config already says FPM listens elsewhere).
  hexport=$(printf '%04X' "$FPM_PORT")
  if [ -z "${listen_reported:-}" ] && ! awk -v port="$hexport" '$4 == "0A" { split($2, a, ":"); if (a[2] == port && a[1] ~ /^0+$/) found = 1 }
       END { exit !found }' /proc/net/tcp /proc/net/tcp6 2> /dev/null; then
    fail "nothing listens on *:$FPM_PORT in the container: PHP-FPM must listen on TCP port $FPM_PORT on all addresses (\`listen = $FPM_PORT\` in the pool)"
  fi

  # The FPM workers run as the web user (they write the caches the chain builds as that user).
  for p in /proc/[0-9]*; do
    title=$(tr '\0' ' ' < "$p/cmdline" 2> /dev/null) || continue
    case "$title" in
      "php-fpm: pool "*)
        uid=$(awk '$1 == "Uid:" { print $2 }' "$p/status" 2> /dev/null) || uid=""
        if [ -n "$uid" ] && [ "$uid" != "$WEB_UID" ]; then
          fail "the PHP-FPM workers (${title% }) run as uid $uid, not the web user $WEB_USER ($WEB_UID): set \`user = $WEB_USER\` in the pool (master as root) or USER $WEB_USER"
          break
        fi ;;
    esac
  done
fi

# ---- The app ----------------------------------------------------------------------------------
app=1
for f in public/index.php artisan; do
  if [ ! -f "$APP_ROOT/$f" ]; then
    fail "$APP_ROOT/$f is missing: COPY the Laravel app to $APP_ROOT in the image (or set the stack's app_root)"
    app=0
  fi
done

user=1
if ! uid=$(id -u "$WEB_USER" 2> /dev/null); then
  fail "no user $WEB_USER in the image: create it with uid $WEB_UID and gid $WEB_GID (or set the stack's web_user)"
  user=0
else
  gid=$(id -g "$WEB_USER")
  if [ "$uid" != "$WEB_UID" ] || [ "$gid" != "$WEB_GID" ]; then
    fail "user $WEB_USER is $uid:$gid in the image, the stack expects $WEB_UID:$WEB_GID: set the stack's web_user uid/gid to $uid/$gid (or change the user in the image)"
    user=0
  fi
fi

# Runs a command as the web user, with only the given variables added to the environment.
as_web() {
  if [ "$(id -u)" = "$WEB_UID" ]; then
    "$@"
  elif command -v setpriv > /dev/null 2>&1; then
    setpriv --reuid="$WEB_UID" --regid="$WEB_GID" --clear-groups -- "$@"
  elif command -v su > /dev/null 2>&1; then
    # shellcheck disable=SC2016 # expanded by the user's shell
    su -s /bin/sh -c 'exec "$0" "$@"' -- "$WEB_USER" "$@"
  else
    return 127
  fi
}

if [ "$app" = 1 ] && [ "$user" = 1 ]; then
  probe="contract-probe-$$"
  chown "$WEB_UID:$WEB_GID" "$tmp"
  chmod 0700 "$tmp"
  # The cached config holds secrets: it goes to the private temp dir (removed on exit), and the
  # boot's service/package manifests too, so nothing in the app changes.
  if ! (cd "$APP_ROOT" && as_web env APP_BUILD="$probe" APP_CONFIG_CACHE="$tmp/config.php" \
    APP_SERVICES_CACHE="$tmp/services.php" APP_PACKAGES_CACHE="$tmp/packages.php" \
    php artisan config:cache --no-interaction > /dev/null 2>&1); then
    fail "\`php artisan config:cache\` fails as $WEB_USER in $APP_ROOT (the release runs it): run it in the image to see why"
  else
    rc=0
    # shellcheck disable=SC2016 # PHP code, not shell
    php -r '$c = require $argv[1];
      foreach (explode(".", $argv[2]) as $k) {
          if (!is_array($c) || !array_key_exists($k, $c)) { exit(2); }
          $c = $c[$k];
      }
      exit($c === $argv[3] ? 0 : 3);' "$tmp/config.php" "$BUILD_KEY" "$probe" || rc=$?
    file=${BUILD_KEY%%.*} key=${BUILD_KEY#*.}
    case "$rc" in
      0) summary="${summary:+$summary; }config $BUILD_KEY = env('APP_BUILD')" ;;
      2) fail "the config has no $BUILD_KEY: add '$key' => env('APP_BUILD'), to config/$file.php" ;;
      *) fail "config $BUILD_KEY does not follow APP_BUILD: set '$key' => env('APP_BUILD'), in config/$file.php" ;;
    esac
  fi
fi

if [ "$problems" -gt 0 ]; then
  echo "image contract: $problems problem(s) above; the release stops before any traffic" >&2
  exit 1
fi
echo "image contract: ok ($summary; $WEB_USER $WEB_UID:$WEB_GID; $APP_ROOT)"
