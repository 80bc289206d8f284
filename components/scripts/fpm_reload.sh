# shellcheck shell=sh
# OPcache reset for PHP-FPM: a graceful reload (SIGUSR2) of the FPM master, sent from inside the
# app container, as root (the master may run as root). Never `docker kill --signal`: the engine
# then marks the container as stopped by hand and does not start it again after it restarts.
set -eu
for p in /proc/[0-9]*; do
  title=$(tr '\0' ' ' < "$p/cmdline" 2> /dev/null) || continue
  case "$title" in
    "php-fpm: master process ("*)
      kill -USR2 "${p#/proc/}"
      echo "opcache-reset: PHP-FPM master (pid ${p#/proc/}) reloading"
      exit 0 ;;
  esac
done
echo "opcache-reset: no PHP-FPM master process runs in the container" >&2
exit 1
