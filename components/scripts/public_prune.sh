# shellcheck shell=sh
# public-prune, after the switch: removes the public/ directories of builds other than the ones
# named (the build now live, and the one that served before it, for a switch back), and what an
# older layout left at the top of the volume. Read on stdin (`sh -s`) by a one-shot of the new
# image. $1 the volume, $2... the directory names to keep.
set -eu
vol="$1"; shift
test -d "$vol/releases"
cd "$vol"
for f in .[!.]* ..?* *; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  [ "$f" = releases ] || { rm -rf "$f" && echo "pruned $f"; }
done
cd releases
for d in .[!.]* ..?* *; do
  [ -e "$d" ] || continue
  keep=0
  for k; do [ "$d" = "$k" ] && keep=1; done
  [ "$keep" = 1 ] || { rm -rf "$d" && echo "pruned releases/$d"; }
done
