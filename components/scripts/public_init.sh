# shellcheck shell=sh
# public-init: copies the new image's public/ over the volume and (re)creates the relative storage
# link (relative, so it resolves wherever nginx mounts the app root). Nothing is deleted yet: the old
# build still serves pages that reference its assets until the switch; public_prune.sh removes
# them afterwards. Read on stdin (`sh -s`) by a one-shot of the new image.
# $1 source, $2 target, $3 "1" to create the link, $4 owner.
set -eu
src="$1"; dst="$2"
test -d "$src"
cp -a "$src/." "$dst/"
if [ "$3" = 1 ]; then
  ln -sfn ../storage/app/public "$dst/storage"
  test -L "$dst/storage"
fi
chown "$4" "$dst"
echo "public-init: $(find "$src" -mindepth 1 | wc -l) entries from $src"
