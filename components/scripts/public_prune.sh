# shellcheck shell=sh
# public-prune, after the switch: deletes what the new image's public/ does not have (stale assets
# of older builds), keeping the storage link. Read on stdin (`sh -s`) by a one-shot of the new image.
# $1 source, $2 target, $3 "1" if the link is managed.
set -eu
src="$1"; dst="$2"
test -d "$src"
cd "$dst"
find . -mindepth 1 -depth | while IFS= read -r f; do
  if [ "$3" = 1 ] && [ "$f" = ./storage ]; then continue; fi
  if [ ! -e "$src/$f" ] && [ ! -L "$src/$f" ]; then rm -rf "$f" && echo "pruned $f"; fi
done
