# shellcheck shell=sh
# public-init: copies the new image's public/ into its own directory of the public volume,
# releases/<build>, with the relative storage link, before the switch. nginx serves exactly the
# directory of the build it passes PHP requests to (the switch sets both), so a file a build
# removed is never served once it is switched in, and the old build keeps its own files until
# then. Read on stdin (`sh -s`) by a one-shot of the new image.
# $1 source, $2 the volume, $3 the build's directory name, $4 "1" to create the link, $5 owner.
set -eu
src="$1"; vol="$2"; dir="$3"
test -d "$src"
mkdir -p "$vol/releases"
chown "$5" "$vol" "$vol/releases"
next="$vol/releases/.incoming-$dir"
rm -rf "$next"
cp -a "$src/." "$next/"
if [ "$4" = 1 ]; then
  # from releases/<build>/storage to the app root's storage/ (nginx mounts it beside public/)
  ln -sfn ../../../storage/app/public "$next/storage"
  test -L "$next/storage"
fi
chown "$5" "$next"
# The same build again (a re-run): its directory is replaced whole, never merged.
if [ -e "$vol/releases/$dir" ]; then mv "$vol/releases/$dir" "$vol/releases/.old-$dir"; fi
mv "$next" "$vol/releases/$dir"
rm -rf "$vol/releases/.old-$dir"
echo "public-init: $(find "$src" -mindepth 1 | wc -l) entries from $src in releases/$dir"
