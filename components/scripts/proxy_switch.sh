# shellcheck shell=sh
# Runs in the front proxy (nginx), as root, from the file the stack uploads with nginx's config:
#
#   proxy_switch.sh to CONTAINER PORT BUILD   the app container CONTAINER:PORT and the build's own
#                                             public/ (releases/<digest, 16 hex>) become live, the
#                                             public/ of the build they replace its fallback
#   proxy_switch.sh back                      what was live before the last switch is live again
#   proxy_switch.sh is BUILD                  exit 0 if BUILD is live
#
# The live file is written atomically (write, rename), the config tested, then a graceful reload
# lets in-flight requests finish where they started. `to` what is already live only reloads
# (a retried step re-asserts its switch) and keeps the record of what served before; `to`
# something new first saves the live file as that record. Each prints the record line of what
# is now live ("build=… container=…"); `to` the one it replaced too ("previous: …"). A failed
# config test puts the live file back.
set -eu
dir=/etc/nginx/laravel-stack
live=$dir/upstream.conf
saved=$dir/previous.upstream # not *.conf: nginx includes only the live one
mkdir -p "$dir"
current=$(cat "$live" 2> /dev/null || true)

install() { # $1 content
  printf '%s\n' "$1" > "$live.next"
  mv "$live.next" "$live"
  if ! nginx -t -q; then
    if [ -n "$current" ]; then printf '%s\n' "$current" > "$live"; else rm -f "$live"; fi
    echo "proxy switch: nginx refused the new upstream, kept the live one" >&2
    exit 1
  fi
  nginx -s reload
}
record() { printf '%s\n' "$1" | sed -n 's/^# laravel-stack release: //p'; }

case "${1:-}" in
  to)
    container=$2 port=$3 build=$4
    digest=${build##*@sha256:}
    public=$(printf '%.16s' "$digest")
    next="# laravel-stack release: build=$build container=$container
set \$app_upstream $container:$port;
set \$app_public $public;"
    if [ "$(printf '%s\n' "$current" | sed -n 1,3p)" = "$next" ]; then
      # Reloaded all the same: a switch killed between the rename and the reload left the file
      # ahead of what nginx serves.
      nginx -t -q && nginx -s reload
      echo "switched (already live): $(record "$next")"
    else
      if [ -n "$current" ]; then printf '%s\n' "$current" > "$saved"; else rm -f "$saved"; fi
      # The build live until now: nginx serves its files that the new build lacks (pages loaded
      # before the switch ask for their own hashed assets). Only ever the build this switch
      # replaces: after a switch back, that is the build before the failed one.
      # shellcheck disable=SC2016 # a literal $ in the pattern
      was=$(printf '%s\n' "$current" | sed -n 's/^set \$app_public \([0-9a-f]\{16\}\);$/\1/p')
      if [ -n "$was" ] && [ "$was" != "$public" ]; then
        next="$next
set \$app_public_previous $was;"
      fi
      install "$next"
      echo "switched: $(record "$next")"
    fi
    if [ -s "$saved" ]; then echo "previous: $(record "$(cat "$saved")")"; fi
    ;;
  back)
    if [ ! -s "$saved" ]; then
      echo "nothing to switch back to: no build served before this release" >&2
      exit 3
    fi
    previous=$(cat "$saved")
    [ "$current" = "$previous" ] || install "$previous"
    echo "live: $(record "$previous")"
    ;;
  is)
    case "$(record "$current")" in
      "build=$2 "*) ;;
      *)
        echo "the proxy serves another build ($(record "$current")), not $2: a failure switched back; release a fixed build" >&2
        exit 1
        ;;
    esac
    ;;
  *)
    echo "usage: proxy_switch.sh to CONTAINER PORT BUILD | back | is BUILD" >&2
    exit 2
    ;;
esac
