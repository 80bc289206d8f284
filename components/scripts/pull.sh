# The build pulled by the deploy engine's own CLI, where that CLI is (here, DOCKER_HOST set, or
# on the server): $1 the build (repo@sha256:…), $2 its platform or ""; stdin: a docker config
# with the registry login, for this pull only. The provider's pull reads the engine's progress
# stream without its errors; this one says why (`no space left on device`, a refused login) in
# one line. A build the engine holds is not pulled again.
set -eu
build=$1 platform=$2
if docker image inspect "$build" >/dev/null 2>&1; then exit 0; fi
dir=$(mktemp -d)
clean() { rm -rf "$dir"; }
trap clean EXIT
cat >"$dir/config.json"
if ! err=$(DOCKER_CONFIG=$dir docker pull --quiet ${platform:+--platform "$platform"} "$build" 2>&1 >/dev/null); then
  echo "laravel-stack: the deploy engine could not pull $build: $(echo "$err" | tr "\n" " ")" >&2
  exit 1
fi
