#!/usr/bin/env bash
# The linters of the GitHub Actions workflows (.github/workflows, scripts/test phase "workflows"),
# idempotent and cached like the rest of the toolchain (a warm run only checks):
#
#   - ShellCheck: the Debian package; actionlint runs it on every `run:` step when it is on PATH
#   - actionlint v1.7.12, built from the Go module github.com/rhysd/actionlint (no binary
#     download), cached under $LARAVEL_STACK_CACHE/toolchain and installed into the lint bin
#     dir that toolchain/env.sh puts on PATH (proving-ground/bootstrap-pulumi.sh; never beside a
#     `pulumi`, so that an installed Pulumi is not shadowed)
#
# Run after proving-ground/bootstrap-pulumi.sh (proving-ground/bootstrap does). Afterwards:
#   . "${LARAVEL_STACK_CACHE:-/var/cache/laravel-stack}/toolchain/env.sh"
#
# Environment knobs:
#   LARAVEL_STACK_CACHE            cache root (default /var/cache/laravel-stack)
#   LARAVEL_STACK_FORCE_REBUILD=1  rebuild actionlint even if the cached build is current
set -euo pipefail

ACTIONLINT_VERSION="1.7.12"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LARAVEL_STACK_CACHE:-/var/cache/laravel-stack}"
TC="${CACHE}/toolchain"
BUILD_DIR="${TC}/build"
# The lint bin dir env.sh puts on PATH (no build: --print-lint-path only computes it).
BIN_DIR="$(bash "${REPO_ROOT}/proving-ground/bootstrap-pulumi.sh" --print-lint-path)"
FORCE="${LARAVEL_STACK_FORCE_REBUILD:-0}"

export DEBIAN_FRONTEND=noninteractive

SCRIPT_T0=$(date +%s)
PART_NAME=""
PART_T0=0
log() { printf '    %s\n' "$*"; }
part_begin() { PART_NAME="$1"; PART_T0=$(date +%s); printf '==> %s\n' "$PART_NAME"; }
part_end() { printf '<== %s: %ss\n' "$PART_NAME" "$(( $(date +%s) - PART_T0 ))"; }
die() { printf 'bootstrap-lint: ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$BUILD_DIR" "$BIN_DIR"
# One toolchain run at a time per cache (shared with proving-ground/bootstrap-pulumi.sh).
exec 9>"${TC}/.lock"
flock 9

# ---------------------------------------------------------------------------
# 1. shellcheck (Debian package; same apt pattern as proving-ground/bootstrap-docker.sh)
# ---------------------------------------------------------------------------
part_begin "shellcheck"
if command -v shellcheck >/dev/null 2>&1; then
  log "present: $(command -v shellcheck) ($(shellcheck --version | sed -n 's/^version: //p'))"
else
  log "installing: shellcheck"
  apt_install() {
    apt-get install -y -q --no-install-recommends shellcheck >>"$CACHE/apt.log" 2>&1
  }
  # apt-get update only when there are no lists or the install fails with them.
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || ! apt_install; then
    log "apt-get update"
    apt-get update -q >>"$CACHE/apt.log" 2>&1 || die "apt-get update failed (see $CACHE/apt.log)"
    apt_install || die "apt-get install shellcheck failed (see $CACHE/apt.log)"
  fi
  command -v shellcheck >/dev/null 2>&1 || die "shellcheck is not on PATH after its install"
  log "installed: $(command -v shellcheck) ($(shellcheck --version | sed -n 's/^version: //p'))"
fi
part_end

# ---------------------------------------------------------------------------
# 2. actionlint (Go module, same build settings as proving-ground/bootstrap-pulumi.sh)
# ---------------------------------------------------------------------------
part_begin "actionlint v${ACTIONLINT_VERSION}"
command -v go >/dev/null 2>&1 || die "go is not on PATH (Go >= 1.25 is needed)"
export GOTOOLCHAIN=local
export GOMODCACHE="${TC}/go/mod"
export GOCACHE="${TC}/go/cache"
export XDG_CONFIG_HOME="${TC}/go/config" GOPATH="${TC}/go/path"  # nothing in the user's home
export GOFLAGS="-buildvcs=false -modcacherw"
export CGO_ENABLED=0

# version_of BINARY: the version actionlint reports (its first line), '' if it does not run.
version_of() { "$1" -version 2>/dev/null | head -n1 || true; }

OUT="${BUILD_DIR}/actionlint-v${ACTIONLINT_VERSION}/actionlint"
if [ "$FORCE" != 1 ] && [ -x "$OUT" ] && [ "$(version_of "$OUT")" = "v${ACTIONLINT_VERSION}" ]; then
  log "cached: ${OUT}"
else
  mkdir -p "$(dirname "$OUT")"
  log "building (GOMODCACHE=${GOMODCACHE}) ..."
  # `go install MODULE@VERSION` builds with the module's own go.mod/go.sum (checksum-verified)
  # and stamps the module version into the binary, which `actionlint -version` prints.
  GOBIN="$(dirname "$OUT")" go install -trimpath -ldflags "-s -w" \
    "github.com/rhysd/actionlint/cmd/actionlint@v${ACTIONLINT_VERSION}" 2>&1 \
    | { grep -v '^go: downloading ' || true; }
  [ "$(version_of "$OUT")" = "v${ACTIONLINT_VERSION}" ] \
    || die "built ${OUT} does not report v${ACTIONLINT_VERSION}: $(version_of "$OUT")"
  # Drop builds of other versions.
  find "$BUILD_DIR" -maxdepth 1 -type d -name 'actionlint-v*' ! -name "actionlint-v${ACTIONLINT_VERSION}" \
    -exec rm -rf {} + 2>/dev/null || true
  log "built: ${OUT}"
fi
if [ -f "${BIN_DIR}/actionlint" ] && cmp -s "$OUT" "${BIN_DIR}/actionlint"; then
  log "installed already: ${BIN_DIR}/actionlint"
else
  cp "$OUT" "${BIN_DIR}/actionlint.tmp.$$"
  chmod 755 "${BIN_DIR}/actionlint.tmp.$$"
  mv -f "${BIN_DIR}/actionlint.tmp.$$" "${BIN_DIR}/actionlint"
  log "installed: ${BIN_DIR}/actionlint"
fi
part_end

printf 'bootstrap-lint: done in %ss (actionlint %s, shellcheck %s)\n' \
  "$(( $(date +%s) - SCRIPT_T0 ))" "$(version_of "${BIN_DIR}/actionlint")" \
  "$(shellcheck --version | sed -n 's/^version: //p')"
