#!/usr/bin/env bash
# The Pulumi the project's scripts use, written to env.sh (below):
#
#   - a Pulumi installed on this machine (a `pulumi` on PATH that is not the proving ground's
#     own): used as it is, with the plugins it acquires itself. Nothing is built and nothing of
#     its home (~/.pulumi, $PULUMI_HOME) is written: the suite then runs on the upstream plugins.
#   - no Pulumi installed (or LARAVEL_STACK_PULUMI=stand-ins): the proving ground's own
#     toolchain, built from Go sources only (no binary downloads) and cached outside the clone,
#     with the stand-in plugins installed in a Pulumi home of its own
#     ($LARAVEL_STACK_CACHE/toolchain/pulumi-home), never in the user's:
#
#   pulumi                        CLI v3.259.0, built from the Go modules
#                                 github.com/pulumi/pulumi/{pkg,sdk}/v3@v3.259.0
#   pulumi-language-python        Python language host      (proving-ground/toolchain, see below)
#   pulumi-language-python-exec   its program runner, taken from the sdk/v3 module
#   pulumi-resource-pulumi-python dynamic-provider shim, taken from the sdk/v3 module
#   plugin resource command 1.2.1 (proving-ground/toolchain/cmd/pulumi-resource-command)
#   plugin resource docker  5.1.0 (proving-ground/toolchain/cmd/pulumi-resource-docker)
#
# The upstream language host and the upstream command/docker providers are NOT served by the Go
# module proxy this project can reach (it answers "403 This module version is not available"
# for github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3,
# github.com/pulumi/pulumi-command/provider, github.com/pulumi/pulumi-docker/provider/v5 and
# github.com/kreuzwerker/terraform-provider-docker at any version). proving-ground/toolchain/ holds
# small protocol-compatible replacements, built here from source against sdk/v3@v3.259.0 and
# installed under the versions the pinned Python SDKs ask for (pulumi-command==1.2.1,
# pulumi-docker==5.1.0). Their READMEs (the header comment of each main.go) list exactly what
# they implement.
#
# Usage:
#   proving-ground/bootstrap-pulumi.sh               build what is missing, install the plugins
#   proving-ground/bootstrap-pulumi.sh --print-path  print the bin dir (no build) for PATH=...
#   proving-ground/bootstrap-pulumi.sh --help
# After a run, `. "${LARAVEL_STACK_CACHE:-/var/cache/laravel-stack}/toolchain/env.sh"` puts the
# tools on PATH and exports the runtime settings below.
#
# Runtime settings (env.sh exports them):
#   LARAVEL_STACK_PULUMI=installed|stand-ins            which of the two above
#   PULUMI_SKIP_UPDATE_CHECK=true                       no update check against the internet
#   with the stand-ins only:
#   PULUMI_HOME=$LARAVEL_STACK_CACHE/toolchain/pulumi-home   the stand-ins' own Pulumi home
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true    a missing plugin is an error, not a download
#
# Environment knobs:
#   LARAVEL_STACK_CACHE   cache root (default /var/cache/laravel-stack); everything goes under
#                         $LARAVEL_STACK_CACHE/toolchain, including GOMODCACHE and GOCACHE
#   LARAVEL_STACK_PULUMI=stand-ins  use the stand-ins even where a Pulumi is installed (CI's way)
#   LARAVEL_STACK_FORCE_REBUILD=1   rebuild everything and reinstall the plugins
set -euo pipefail

PULUMI_VERSION="3.259.0"
COMMAND_VERSION="1.2.1"
DOCKER_VERSION="5.1.0"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_DIR="${REPO_ROOT}/proving-ground/toolchain"
CACHE_ROOT="${LARAVEL_STACK_CACHE:-/var/cache/laravel-stack}"
TC="${CACHE_ROOT}/toolchain"
BIN_DIR="${TC}/pulumi-v${PULUMI_VERSION}/bin"
BUILD_DIR="${TC}/build"
ENV_FILE="${TC}/env.sh"
# The stand-ins' own Pulumi home: never the user's ~/.pulumi or $PULUMI_HOME.
STANDIN_HOME="${TC}/pulumi-home"
# actionlint (proving-ground/bootstrap-lint.sh): on PATH in both modes, beside no Pulumi binary.
LINT_BIN="${TC}/lint/bin"
FORCE="${LARAVEL_STACK_FORCE_REBUILD:-0}"

usage() { sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

case "${1:-}" in
  --print-path) printf '%s\n' "$BIN_DIR"; exit 0 ;;
  --print-lint-path) printf '%s\n' "$LINT_BIN"; exit 0 ;;
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) printf 'bootstrap-pulumi: unknown argument %s (try --help)\n' "$1" >&2; exit 2 ;;
esac

SCRIPT_T0=$(date +%s)
PART_NAME=""
PART_T0=0
log() { printf '    %s\n' "$*"; }
part_begin() { PART_NAME="$1"; PART_T0=$(date +%s); printf '==> %s\n' "$PART_NAME"; }
part_end() { printf '<== %s: %ss\n' "$PART_NAME" "$(( $(date +%s) - PART_T0 ))"; }
die() { printf 'bootstrap-pulumi: ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$TC"
# One run at a time per cache (a second concurrent run waits here).
exec 9>"${TC}/.lock"
flock 9

# write_env MODE [PULUMI]: env.sh for the other scripts (atomically).
write_env() {
  {
    echo "# Written by proving-ground/bootstrap-pulumi.sh: the Pulumi the project's scripts use."
    printf 'export LARAVEL_STACK_PULUMI=%q\n' "$1"
    printf 'case ":${PATH}:" in *":%s:"*) ;; *) export PATH="%s:${PATH}" ;; esac\n' "$LINT_BIN" "$LINT_BIN"
    echo "export PULUMI_SKIP_UPDATE_CHECK=true"
    if [ "$1" = stand-ins ]; then
      printf 'case ":${PATH}:" in *":%s:"*) ;; *) export PATH="%s:${PATH}" ;; esac\n' "$BIN_DIR" "$BIN_DIR"
      printf 'export PULUMI_HOME=%q\n' "$STANDIN_HOME"
      echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
    else
      printf 'export LARAVEL_STACK_PULUMI_BIN=%q\n' "$2"
    fi
  } > "${ENV_FILE}.tmp"
  mv -f "${ENV_FILE}.tmp" "$ENV_FILE"
}

# A Pulumi installed here: a `pulumi` on PATH outside the proving ground's bin dir.
installed=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF -e "$BIN_DIR" | paste -sd: -) \
  command -v pulumi 2>/dev/null || true)
if [ -n "$installed" ] && [ "${LARAVEL_STACK_PULUMI:-}" != stand-ins ]; then
  part_begin "pulumi: installed"
  log "using ${installed} and the plugins it acquires itself (nothing built, its home untouched)"
  write_env installed "$installed"
  log "wrote ${ENV_FILE}"
  part_end
  printf 'bootstrap-pulumi: done in %ss\n' "$(( $(date +%s) - SCRIPT_T0 ))"
  printf 'pulumi: %s, installed on this machine, with its own plugins\n' "$installed"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "go is not on PATH (Go >= 1.25.11 is needed)"
mkdir -p "$BUILD_DIR" "$BIN_DIR"
# Every run of the CLI below (even `pulumi version`, which writes a log) uses the stand-ins' home.
export PULUMI_HOME="$STANDIN_HOME"

export GOTOOLCHAIN=local
export GOMODCACHE="${TC}/go/mod"
export GOCACHE="${TC}/go/cache"
# Go's own files (telemetry, the checksum database) in the cache too: nothing in the user's home.
export XDG_CONFIG_HOME="${TC}/go/config" GOPATH="${TC}/go/path"
# -modcacherw: the module cache stays deletable by anyone who can delete the cache dir.
export GOFLAGS="-buildvcs=false -modcacherw"
export CGO_ENABLED=0

# go_quiet CMD...: run a go command without its "go: downloading ..." lines; keeps its status.
go_quiet() {
  local rc
  set +e
  "$@" 2>&1 | grep -v '^go: downloading '
  rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

# install_file SRC DST: replace DST atomically when its content differs; prints what it did.
install_file() {
  local src=$1 dst=$2
  if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
    return 1
  fi
  cp "$src" "${dst}.tmp.$$"
  chmod 755 "${dst}.tmp.$$"
  mv -f "${dst}.tmp.$$" "$dst"
  return 0
}

# ---------------------------------------------------------------------------
# 1. Go module sources (pkg/v3 and sdk/v3 at the same version)
# ---------------------------------------------------------------------------
part_begin "go modules"
log "go: $(go version | awk '{print $3}'), GOMODCACHE=${GOMODCACHE}"
mod_dir() {
  # Prints the extracted module dir; downloads it into GOMODCACHE if needed.
  local json dir
  json=$(cd "$BUILD_DIR" && go mod download -json "$1") || die "go mod download $1 failed: ${json}"
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || die "go mod download $1 gave no Dir: ${json}"
  printf '%s\n' "$dir"
}
PKG_SRC=$(mod_dir "github.com/pulumi/pulumi/pkg/v3@v${PULUMI_VERSION}")
SDK_SRC=$(mod_dir "github.com/pulumi/pulumi/sdk/v3@v${PULUMI_VERSION}")
log "pkg/v3: ${PKG_SRC}"
log "sdk/v3: ${SDK_SRC}"
part_end

# ---------------------------------------------------------------------------
# 2. The CLI
# ---------------------------------------------------------------------------
part_begin "pulumi CLI v${PULUMI_VERSION}"
CLI_OUT="${BUILD_DIR}/pulumi-v${PULUMI_VERSION}/pulumi"
if [ "$FORCE" != 1 ] && [ -x "$CLI_OUT" ] \
  && [ "$("$CLI_OUT" version 2>/dev/null)" = "v${PULUMI_VERSION}" ]; then
  log "cached: ${CLI_OUT}"
else
  # pkg/go.mod replaces sdk/v3 with ../sdk, so build in a tree laid out as pkg/ and sdk/.
  src="${BUILD_DIR}/src-pulumi-v${PULUMI_VERSION}"
  rm -rf "$src"
  mkdir -p "$src"
  cp -r "$PKG_SRC" "$src/pkg"
  cp -r "$SDK_SRC" "$src/sdk"
  chmod -R u+w "$src"
  mkdir -p "$(dirname "$CLI_OUT")"
  log "building (takes a few minutes on 2 cores) ..."
  (cd "$src/pkg" && go_quiet go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${PULUMI_VERSION}" \
    -o "${CLI_OUT}.tmp" ./cmd/pulumi)
  mv -f "${CLI_OUT}.tmp" "$CLI_OUT"
  rm -rf "$src"
  log "built: ${CLI_OUT} ($("$CLI_OUT" version))"
fi
install_file "$CLI_OUT" "${BIN_DIR}/pulumi" && log "installed ${BIN_DIR}/pulumi"
PULUMI="${BIN_DIR}/pulumi"
part_end

# ---------------------------------------------------------------------------
# 3. Language host, its scripts, and the provider plugins (proving-ground/toolchain)
# ---------------------------------------------------------------------------
# Keyed by version and by a hash of the sources and of the Go version.
SRC_HASH=$( { go version; (cd "$SRC_DIR" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) \
  -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); } | sha256sum | cut -c1-12)

# build_tool NAME VERSION OUTDIR: go build ./cmd/NAME with main.version=VERSION, cached.
build_tool() {
  local name=$1 version=$2 out="${BUILD_DIR}/$1-v$2-${SRC_HASH}/$1"
  if [ "$FORCE" != 1 ] && [ -x "$out" ]; then
    log "cached: ${out}" >&2
  else
    mkdir -p "$(dirname "$out")"
    log "building ${name} v${version} (sources ${SRC_HASH}) ..." >&2
    (cd "$SRC_DIR" && go_quiet go build -trimpath -ldflags "-s -w -X main.version=${version}" \
      -o "${out}.tmp" "./cmd/${name}") >&2
    mv -f "${out}.tmp" "$out"
    # Drop builds of older sources.
    find "$BUILD_DIR" -maxdepth 1 -type d -name "${name}-v*" ! -name "${name}-v${version}-${SRC_HASH}" \
      -exec rm -rf {} + 2>/dev/null || true
  fi
  printf '%s\n' "$out"
}

part_begin "python language host"
out=$(build_tool pulumi-language-python "$PULUMI_VERSION")
install_file "$out" "${BIN_DIR}/pulumi-language-python" && log "installed ${BIN_DIR}/pulumi-language-python"
# The runner script must sit next to the host; both scripts are files of the sdk/v3 module.
install_file "${SDK_SRC}/python/cmd/pulumi-language-python-exec" "${BIN_DIR}/pulumi-language-python-exec" \
  && log "installed ${BIN_DIR}/pulumi-language-python-exec"
install_file "${SDK_SRC}/python/dist/pulumi-resource-pulumi-python" "${BIN_DIR}/pulumi-resource-pulumi-python" \
  && log "installed ${BIN_DIR}/pulumi-resource-pulumi-python"
part_end

# Provider binaries are NOT put in BIN_DIR: pulumi prefers a pulumi-resource-* found on PATH
# over the installed plugin (with a warning), which would bypass the version check.
PLUGIN_HOME="$STANDIN_HOME"
install_plugin() {
  local name=$1 version=$2 bin
  part_begin "plugin ${name} v${version}"
  bin=$(build_tool "pulumi-resource-${name}" "$version")
  local installed="${PLUGIN_HOME}/plugins/resource-${name}-v${version}/pulumi-resource-${name}"
  if [ "$FORCE" != 1 ] && [ -f "$installed" ] && cmp -s "$bin" "$installed"; then
    log "installed already: ${installed}"
  else
    PULUMI_SKIP_UPDATE_CHECK=true "$PULUMI" plugin install resource "$name" "$version" \
      --file "$bin" --reinstall >/dev/null
    [ -x "$installed" ] || die "plugin install did not produce ${installed}"
    log "installed: ${installed}"
  fi
  part_end
}
install_plugin command "$COMMAND_VERSION"
install_plugin docker "$DOCKER_VERSION"

# ---------------------------------------------------------------------------
# 4. env.sh for other scripts
# ---------------------------------------------------------------------------
part_begin "env.sh"
write_env stand-ins
log "wrote ${ENV_FILE}"
# Earlier versions of this script installed the stand-ins into the user's own Pulumi home.
user_home="${PULUMI_HOME:-${HOME}/.pulumi}"
for plugin in "docker ${DOCKER_VERSION}" "command ${COMMAND_VERSION}"; do
  read -r name version <<<"$plugin"
  bin="${user_home}/plugins/resource-${name}-v${version}/pulumi-resource-${name}"
  if [ -f "$bin" ] && grep -q 'laravel-stack/toolchain' "$bin"; then
    log "WARNING: ${bin} is laravel-stack's stand-in (an earlier bootstrap put it there, over the real plugin): \`pulumi plugin rm resource ${name} ${version} --yes\` lets Pulumi install the real one"
  fi
done
part_end
printf 'bootstrap-pulumi: done in %ss\n' "$(( $(date +%s) - SCRIPT_T0 ))"
printf 'pulumi: the stand-ins, %s (no Pulumi installed here), home %s\n' \
  "$(PULUMI_SKIP_UPDATE_CHECK=true "$PULUMI" version)" "$PLUGIN_HOME"
