# shellcheck shell=sh
# Runs where the deploy engine's docker CLI is (this machine for unix:// and tcp://, the server
# over ssh), after a successful release. The deploy engine keeps the release history itself:
# each deployed build carries one tag `deployed-<UTC time>-<release tag>` in the app's
# repository. Keeps the last N builds deployed and removes the older ones: never an image a
# container uses (running or stopped), never another repository's reference (an image also
# known under another name stays, without this repository's references). Prints the kept
# history, newest first, one JSON object a line (the stack's `releases` output).
#
# $1 the engine (DOCKER_HOST; empty: the CLI's default), $2 N, $3 the repository, $4 the build
# just deployed (repository@sha256:…), $5 its release tag (empty: unknown; a rollback keeps
# the tag that build was deployed with before), $6 the backups volume (empty: none), $7 an
# image to list the volumes with (the database's), $8 the releases volume (empty: none). Each
# release of the history names its backup: the newest of its build taken before it was
# deployed (backup.sh's names: TIME-BUILD.sql.gz). Then every outcome the releases volume
# recorded (release_step.py), one `event: {…}` line each.
set -eu
[ -z "$1" ] || export DOCKER_HOST="$1"
n=$2; repo=$3; build=$4; tag=$5; backups=${6:-}; lister=${7:-}; releases=${8:-}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
refs() { # image -> its references in this repository (repo:tag, repo@digest), one a line
  docker image inspect --format \
    '{{range .RepoTags}}{{println .}}{{end}}{{range .RepoDigests}}{{println .}}{{end}}' "$1" \
    | awk -v r="$repo" 'index($0, r ":") == 1 || index($0, r "@") == 1'
}

# 1. Record this release: one deployed- tag for the build, with the time and its release tag.
# (The new tag first: an image losing its last tag would be deleted, or refused while in use.)
id=$(docker image inspect --format '{{.Id}}' "$build")
earlier=$(refs "$id" | awk -v r="$repo:deployed-" 'index($0, r) == 1')
if [ -z "$tag" ] && [ -n "$earlier" ]; then
  rest=$(echo "$earlier" | head -n 1); rest=${rest#"$repo:deployed-"}; tag=${rest#*-}
fi
new="$repo:deployed-$(date -u +%Y%m%dT%H%M%SZ)-$(echo "$tag" | cut -c1-100)"
docker tag "$build" "$new"
for ref in $earlier; do
  [ "$ref" = "$new" ] || docker image rm "$ref" > /dev/null
done

# 2. The builds to keep: the last N deployed; fewer recorded (a stack older than the history),
# the newest other builds by creation time fill the places.
docker image ls --no-trunc --format '{{.Tag}} {{.ID}}' "$repo" | grep '^deployed-' | sort -r \
  > "$tmp/history"
cut -d' ' -f2 "$tmp/history" | awk '!seen[$0]++' | head -n "$n" > "$tmp/kept"
docker image ls --no-trunc --format '{{.CreatedAt}}|{{.ID}}' "$repo" | sort -r \
  | cut -d'|' -f2 | awk '!seen[$0]++' > "$tmp/ids"
while read -r image; do
  [ "$(wc -l < "$tmp/kept")" -lt "$n" ] || break
  grep -qx "$image" "$tmp/kept" || echo "$image" >> "$tmp/kept"
done < "$tmp/ids"
docker ps -aq --no-trunc | xargs -r docker inspect --format '{{.Image}}' | sort -u > "$tmp/used"

# 3. Remove the others (each reference once: the last one removed deletes the image).
removed=0
while read -r image; do
  if grep -qx "$image" "$tmp/kept" || grep -qx "$image" "$tmp/used"; then continue; fi
  for ref in $(refs "$image"); do
    if docker image inspect "$ref" > /dev/null 2>&1; then docker image rm "$ref" > /dev/null; fi
  done
  removed=$((removed + 1))
  echo "retention: removed build ${image#sha256:}" >&2
done < "$tmp/ids"
echo "retention: kept $(wc -l < "$tmp/kept") build(s) of $repo, removed $removed" >&2

# 4. The history kept, newest first.
: > "$tmp/backups"
if [ -n "$backups" ]; then
  docker run --rm --pull never --network none --volume "$backups:/backups:ro" --entrypoint ls \
    "$lister" /backups > "$tmp/backups"
fi
while read -r deployed image; do
  grep -qx "$image" "$tmp/kept" || continue
  digest=$(refs "$image" | awk -v r="$repo@" 'index($0, r) == 1 { print substr($0, length(r) + 1); exit }')
  at=$(echo "$deployed" | cut -d- -f2 | sed -E 's/^(....)(..)(..)T(..)(..)(..)Z$/\1-\2-\3T\4:\5:\6Z/')
  when=$(echo "$deployed" | cut -d- -f2)
  hex=$(printf '%.16s' "${digest#sha256:}")
  backup=$(awk -v h="$hex" -v t="$when" 'substr($0, 17) == "-" h ".sql.gz" && substr($0, 1, 16) <= t' \
    "$tmp/backups" | sort | tail -n 1)
  printf '{"build": "%s@%s", "digest": "%s", "tag": "%s", "deployed": "%s", "backup": "%s"}\n' \
    "$repo" "$digest" "$digest" "$(echo "$deployed" | cut -d- -f3-)" "$at" "$backup"
done < "$tmp/history"

# 5. The recorded outcomes (failed releases too), oldest first.
if [ -n "$releases" ]; then
  docker run --rm --pull never --network none --volume "$releases:/releases:ro" --entrypoint sh \
    "$lister" -c 'cat /releases/history.jsonl 2> /dev/null || true' | sed -n 's/^{/event: {/p'
fi
