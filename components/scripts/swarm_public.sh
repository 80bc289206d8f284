# shellcheck shell=sh
# The swarm stack's public assets (issue 21): each build's public/ is a directory of the shared
# volume (releases/<build>, filled by public_init.sh), and nginx on every node serves
# /current, then /next, then /previous (try_files): during a rollout old and new tasks both find
# their assets. Read on stdin (`sh -s`) by a one-shot over the volume:
#
#   swarm_public.sh VOLUME next DIR      before the rollout: next -> DIR
#   swarm_public.sh VOLUME switch DIR    after the fleet check: previous -> current, current -> DIR
#   swarm_public.sh VOLUME prune KEEP    remove all but the KEEP newest builds and those pointed to
#
# A pointer is replaced atomically (a new link renamed over the old one).
set -eu
vol="$1/releases" cmd=$2 arg=$3
point() { ln -sfn "$2" "${vol}/.$1.tmp" && mv -T "${vol}/.$1.tmp" "${vol}/$1"; }
target() { readlink "${vol}/$1" 2>/dev/null || true; }
case "$cmd" in
  next)
    test -d "${vol}/${arg}" || { echo "public: no releases/${arg}" >&2; exit 1; }
    point next "$arg"
    echo "public: next -> ${arg}" ;;
  switch)
    test -d "${vol}/${arg}" || { echo "public: no releases/${arg}" >&2; exit 1; }
    cur=$(target current)
    if [ -n "$cur" ] && [ "$cur" != "$arg" ]; then point previous "$cur"; fi
    point current "$arg"
    rm -f "${vol}/next"
    echo "public: current -> ${arg} (previous: $(target previous))" ;;
  prune)
    pinned=" $(target current) $(target previous) $(target next) "
    n=0
    # shellcheck disable=SC2045 # the names are 16 hex digits (files.public_dir): newest first
    for d in $(ls -1t "$vol"); do
      case "$d" in current|previous|next) continue ;; esac
      n=$((n + 1))
      case "$pinned" in *" ${d} "*) continue ;; esac
      if [ "$n" -gt "$arg" ]; then rm -rf "${vol:?}/${d}"; echo "public: removed ${d}"; fi
    done
    echo "public: kept ${arg} builds and $(echo "$pinned" | wc -w) pointed to" ;;
  *) echo "usage: swarm_public.sh VOLUME next|switch DIR | prune KEEP" >&2; exit 2 ;;
esac
