# Runs where the deploy engine's docker CLI is (this machine for unix:// and tcp://, the server
# over ssh), after a successful release: keeps the app's last N builds on the engine and
# removes the older ones. Never an image a container uses (running or stopped), never another
# repository's reference (only this repository's tags and digests are removed: an image also
# known under another name stays).
#
# $1 N, $2 the repository, $3 the engine (DOCKER_HOST; empty: the CLI's default), $4… the builds to keep first: the
# release history's digests, newest first. Fewer than N of them (a stack deployed before the
# history existed): the newest other builds by creation time fill the remaining places.
set -eu
n=$1; repo=$2; [ -z "$3" ] || export DOCKER_HOST="$3"; shift 3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
docker ps -aq --no-trunc | xargs -r docker inspect --format '{{.Image}}' | sort -u > "$tmp/used"
# this repository's builds (image ids), newest first
docker image ls --no-trunc --format '{{.CreatedAt}}|{{.ID}}' "$repo" | sort -r \
  | cut -d'|' -f2 | awk '!seen[$0]++' > "$tmp/ids"
: > "$tmp/keep"
for digest in "$@"; do
  docker image inspect --format '{{.Id}}' "$repo@$digest" 2>/dev/null >> "$tmp/keep" || true
done
awk '!seen[$0]++' "$tmp/keep" | head -n "$n" > "$tmp/kept"
while read -r id; do
  [ "$(wc -l < "$tmp/kept")" -lt "$n" ] || break
  grep -qx "$id" "$tmp/kept" || echo "$id" >> "$tmp/kept"
done < "$tmp/ids"
removed=0
while read -r id; do
  if grep -qx "$id" "$tmp/kept" || grep -qx "$id" "$tmp/used"; then continue; fi
  refs=$(docker image inspect --format '{{range .RepoTags}}{{println .}}{{end}}{{range .RepoDigests}}{{println .}}{{end}}' "$id")
  for ref in $refs; do
    case "$ref" in "$repo:"*|"$repo@"*) docker image rm "$ref" > /dev/null ;; esac
  done
  removed=$((removed + 1))
  echo "removed build ${id#sha256:}"
done < "$tmp/ids"
echo "retention: kept $(wc -l < "$tmp/kept") build(s) of $repo, removed $removed"
