#!/usr/bin/env bash
# Bring up everything the local laravel-stack needs without any image hub:
#   1. Debian packages: docker.io, docker-registry, debootstrap (+ curl, keyring), php-cli
#   2. dockerd (started in the background when `docker info` fails; no systemd needed)
#   3. Debian's docker-registry on 127.0.0.1:5000 (storage under the cache dir), and a
#      second one on 127.0.0.1:5001 that needs a login (htpasswd) for the app image
#   4. base images debian:bookworm-slim, debian:trixie-slim and debian:sid-slim, built
#      with debootstrap (tarballs cached)
#   5. support images built from examples/images/* and pushed to the registry:
#        127.0.0.1:5000/laravel-stack/nginx:bookworm
#        127.0.0.1:5000/laravel-stack/mariadb:10.11
#        127.0.0.1:5000/laravel-stack/redis:7
#        127.0.0.1:5000/laravel-stack/caddy:2.6    (the TLS edge)
#        127.0.0.1:5000/laravel-stack/pebble:2.4   (the e2e ACME server)
#
# Idempotent: a warm run only checks and takes seconds.  Each part prints how long
# it took.
#
# Environment knobs:
#   LARAVEL_STACK_CACHE          cache dir (default /var/cache/laravel-stack)
#   LARAVEL_STACK_REGISTRY_PORT  registry port on 127.0.0.1 (default 5000)
#   LARAVEL_STACK_STORAGE_DRIVER force a dockerd storage driver (default: overlay2
#                                when an overlay mount works here, else vfs)
#   LARAVEL_STACK_DOCKERD_ARGS   extra dockerd arguments (word-split)
#   LARAVEL_STACK_FORCE_REBUILD  1 = rebuild the support images even if unchanged
#   LARAVEL_STACK_SKIP_IMAGES    1 = stop after the base image
#
#   proving-ground/bootstrap-docker.sh --restart-dockerd   restart the engine as a host reboot or a
#       package upgrade does (SIGTERM, then started again the same way; systemd's unit where
#       systemd runs it), and stop after that part: the e2e's engine-restart cases.
set -euo pipefail
RESTART_DOCKERD=0
case "${1:-}" in
  --restart-dockerd) RESTART_DOCKERD=1 ;;
  "") ;;
  *) printf 'bootstrap-docker: unknown argument %s\n' "$1" >&2; exit 2 ;;
esac

CACHE="${LARAVEL_STACK_CACHE:-/var/cache/laravel-stack}"
REG_PORT="${LARAVEL_STACK_REGISTRY_PORT:-5000}"
REGISTRY="127.0.0.1:${REG_PORT}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGES_DIR="${REPO_ROOT}/examples/images"
BASE_IMAGE="debian:bookworm-slim"
SUITE="bookworm"
# Bump when the recipe of the base image changes (forces a new debootstrap).
BASE_RECIPE="bookworm-minbase-slim-v1"
LABEL_NS="org.laravel-stack"

export DEBIAN_FRONTEND=noninteractive
# The legacy builder: this Debian's docker has no buildx plugin, and the legacy
# builder resolves FROM against the local image store (no hub needed).
export DOCKER_BUILDKIT=0

mkdir -p "$CACHE"

SCRIPT_T0=$(date +%s)
PART_NAME=""
PART_T0=0
log() { printf '    %s\n' "$*"; }
part_begin() {
  PART_NAME="$1"
  PART_T0=$(date +%s)
  printf '==> %s\n' "$PART_NAME"
}
part_end() {
  printf '<== %s: %ss\n' "$PART_NAME" "$(( $(date +%s) - PART_T0 ))"
}
die() { printf 'bootstrap-docker: ERROR: %s\n' "$*" >&2; exit 1; }

# wait_for SECONDS CMD...: poll CMD once a second until it succeeds.
wait_for() {
  local limit=$1; shift
  local i
  for (( i = 0; i < limit; i++ )); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  "$@" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------
# 1. packages
# ---------------------------------------------------------------------------
if [ "$RESTART_DOCKERD" = 1 ]; then
  part_begin "dockerd restart"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker 2>/dev/null; then
    systemctl restart docker
  else
    pid=$(cat /var/run/docker.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null \
      || die "no running dockerd to restart (/var/run/docker.pid)"
    kill -TERM "$pid"
    # It stops every container first (their stop timeouts, bounded by its shutdown timeout).
    wait_for 90 bash -c "! kill -0 $pid" || die "dockerd (pid $pid) did not stop within 90s"
    log "dockerd (pid $pid) stopped"
  fi
  part_end
fi
part_begin "packages"
need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need_pkgs+=(docker-registry)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl ca-certificates)
command -v gpgv >/dev/null 2>&1 || need_pkgs+=(gpgv)
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need_pkgs+=(debian-archive-keyring)
command -v iptables >/dev/null 2>&1 || need_pkgs+=(iptables)
# The e2e's second Docker host (proving-ground/remote-host): sshd, socat to reach the registries, and
# mkfs.ext4 for its disk of its own.
command -v mkfs.ext4 >/dev/null 2>&1 || need_pkgs+=(e2fsprogs)
[ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)
command -v ssh-agent >/dev/null 2>&1 || need_pkgs+=(openssh-client)
command -v socat >/dev/null 2>&1 || need_pkgs+=(socat)
# The unit tests run the release's PHP scripts (health_probe.php) with a PHP CLI of this machine.
command -v php >/dev/null 2>&1 || need_pkgs+=(php-cli)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing: ${need_pkgs[*]}"
  apt_install() {
    apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" \
      >>"$CACHE/apt.log" 2>&1
  }
  # apt-get update only when there are no lists or the install fails with them.
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || ! apt_install; then
    log "apt-get update"
    apt-get update -q >>"$CACHE/apt.log" 2>&1 || die "apt-get update failed (see $CACHE/apt.log)"
    apt_install || die "apt-get install failed (see $CACHE/apt.log)"
  fi
else
  log "all present"
fi
part_end

# ---------------------------------------------------------------------------
# 2. dockerd
# ---------------------------------------------------------------------------
part_begin "dockerd"
overlay_works() {
  # Try a real overlay mount where dockerd keeps its data (a nested overlay
  # backing filesystem, for example, refuses it).
  local base=/var/lib/docker d ok=1
  mkdir -p "$base"
  d=$(mktemp -d "$base/.overlay-probe.XXXXXX")
  mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
  if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
    ok=0
    umount "$d/m" || true
  fi
  rm -rf "$d"
  return $ok
}
if docker info >/dev/null 2>&1; then
  log "already running (storage driver: $(docker info --format '{{.Driver}}' 2>/dev/null))"
else
  if [ -n "${LARAVEL_STACK_STORAGE_DRIVER:-}" ]; then
    driver="$LARAVEL_STACK_STORAGE_DRIVER"
  elif overlay_works; then
    driver=overlay2
  else
    driver=vfs
    log "overlay mounts do not work here: falling back to the vfs storage driver (slow, disk hungry)"
  fi
  args=(--storage-driver="$driver")
  if ! iptables -t nat -L -n >/dev/null 2>&1; then
    log "iptables nat table unusable: starting dockerd with --iptables=false"
    args+=(--iptables=false --ip-masq=false)
  fi
  # shellcheck disable=SC2206
  [ -n "${LARAVEL_STACK_DOCKERD_ARGS:-}" ] && args+=(${LARAVEL_STACK_DOCKERD_ARGS})
  # A pid file left by a dead daemon makes dockerd refuse to start.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  if [ -f /var/run/docker/containerd/containerd.pid ] \
     && ! kill -0 "$(cat /var/run/docker/containerd/containerd.pid)" 2>/dev/null; then
    rm -f /var/run/docker/containerd/containerd.pid
  fi
  log "starting dockerd ${args[*]} (log: $CACHE/dockerd.log)"
  nohup dockerd "${args[@]}" >>"$CACHE/dockerd.log" 2>&1 </dev/null &
  echo $! >"$CACHE/dockerd.pid"
  if ! wait_for 60 docker info; then
    tail -n 30 "$CACHE/dockerd.log" >&2 || true
    die "dockerd did not answer within 60s (see $CACHE/dockerd.log)"
  fi
  log "dockerd up (pid $(cat "$CACHE/dockerd.pid"), storage driver: $(docker info --format '{{.Driver}}'))"
fi
part_end
[ "$RESTART_DOCKERD" = 0 ] || exit 0

# ---------------------------------------------------------------------------
# 3. local registry
# ---------------------------------------------------------------------------
# serve_registry NAME CHECK: run Debian's docker-registry with $CACHE/NAME/config.yml in the
# background (pid and log in $CACHE/NAME.{pid,log}) and wait until CHECK passes.
serve_registry() {
  local name=$1 check=$2
  log "starting docker-registry $name (log: $CACHE/$name.log)"
  nohup docker-registry serve "$CACHE/$name/config.yml" >>"$CACHE/$name.log" 2>&1 </dev/null &
  echo $! >"$CACHE/$name.pid"
  if ! wait_for 30 "$check"; then
    tail -n 20 "$CACHE/$name.log" >&2 || true
    die "docker-registry $name did not pass $check within 30s"
  fi
  log "docker-registry $name up (pid $(cat "$CACHE/$name.pid"))"
}

part_begin "registry ${REGISTRY}"
registry_up() { curl -fsS -o /dev/null "http://${REGISTRY}/v2/"; }
if registry_up 2>/dev/null; then
  log "already answering"
else
  mkdir -p "$CACHE/registry/data"
  cat >"$CACHE/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: ${CACHE}/registry/data
  delete:
    enabled: true
http:
  addr: ${REGISTRY}
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
  serve_registry registry registry_up
fi
part_end

# ---------------------------------------------------------------------------
# 3b. a registry that needs a login, like the field notes' private registry: the local stack
#     pushes the app image there, so every local release exercises registry credentials.
#     User `deploy`, password `local-registry-password`: a documented local throwaway.
# ---------------------------------------------------------------------------
AUTH_REGISTRY="127.0.0.1:${LARAVEL_STACK_AUTH_REGISTRY_PORT:-5001}"
part_begin "registry with login ${AUTH_REGISTRY}"
auth_registry_up() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://${AUTH_REGISTRY}/v2/")" = 401 ]
}
# The login file, even when a registry already answers: the fault suite's own registry
# (127.0.0.1:5002) serves with the same file, from this cache.
mkdir -p "$CACHE/registry-auth/data"
if [ ! -s "$CACHE/registry-auth/htpasswd" ]; then
  # bcrypt, as the registry's htpasswd backend requires (libxcrypt has it: no extra package);
  # the lowest cost: the registry checks it on every request of a push or pull
  python3 -W ignore -c 'import crypt; print("deploy:" + crypt.crypt("local-registry-password", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' \
    >"$CACHE/registry-auth/htpasswd.next"
  mv "$CACHE/registry-auth/htpasswd.next" "$CACHE/registry-auth/htpasswd"
fi
if auth_registry_up 2>/dev/null; then
  log "already answering (401 without credentials)"
else
  cat >"$CACHE/registry-auth/config.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${CACHE}/registry-auth/data
  delete:
    enabled: true
auth:
  htpasswd:
    realm: laravel-stack-local
    path: ${CACHE}/registry-auth/htpasswd
http:
  addr: ${AUTH_REGISTRY}
CONF
  serve_registry registry-auth auth_registry_up
fi
part_end

# ---------------------------------------------------------------------------
# 4. base images debian:bookworm-slim and debian:trixie-slim (debootstrap, no hub):
#    bookworm for the stack's images and the Laravel 8 example, trixie (PHP 8.4, Laravel 10)
#    for the Laravel 10 example
# ---------------------------------------------------------------------------
image_label() { # image label -> value ('' if absent)
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# The mirror this machine's apt uses for SUITE: deb822 sources first, then the
# one-line format.  Empty = let debootstrap use its default.
host_mirror() { # suite
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v want="$suite" '
      BEGIN { RS=""; FS="\n" }
      {
        uris=""; suites=""; types=""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { uris=$i;   sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { suites=$i; sub(/^Suites:[ \t]*/, "", suites) }
          if ($i ~ /^Types:/)  { types=$i }
          if ($i ~ /^Enabled:[ \t]*no/) { next }
        }
        if (types !~ /(^|[ \t])deb([ \t]|$)/) next
        n = split(suites, s, /[ \t]+/)
        for (j = 1; j <= n; j++) if (s[j] == want) { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f"
  done | head -n1 | grep . && return 0
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk -v want="$suite" '$1 == "deb" {
        k = 2; if ($2 ~ /^\[/) { while ($k !~ /\]$/) k++; k++ }
        if ($(k+1) == want) { print $k; exit } }' | head -n1
}

base_image() { # suite image recipe: debian:<suite>-slim built with debootstrap, cached
  local SUITE=$1 BASE_IMAGE=$2 BASE_RECIPE=$3 TARBALL SAVED rootfs mirror sec_mirror main_uri suites
  local -a keyring_args
  part_begin "base image ${BASE_IMAGE}"
  # Two cache levels: the rootfs tarball (debootstrap output) and the imported
  # image as `docker save` wrote it. `docker load` of the latter gives back the very
  # same image ID (an import would get a new one, and so invalidate the build
  # cache of everything FROM it).
  TARBALL="$CACHE/base/debian-${SUITE}-slim.${BASE_RECIPE}.rootfs.tar"
  SAVED="$CACHE/base/debian-${SUITE}-slim.${BASE_RECIPE}.image.tar"
  base_ok() {
    [ "$(image_label "$BASE_IMAGE" "${LABEL_NS}.base-recipe")" = "$BASE_RECIPE" ]
  }
  if base_ok; then
    log "present ($(docker image inspect --format '{{.Id}}' "$BASE_IMAGE" | cut -c1-19))"
  elif [ -s "$SAVED" ] && docker load -q -i "$SAVED" >/dev/null && base_ok; then
    log "loaded cached image $SAVED ($(docker image inspect --format '{{.Id}}' "$BASE_IMAGE" | cut -c1-19))"
  else
    if [ ! -s "$TARBALL" ]; then
      mkdir -p "$CACHE/base"
      rootfs="$CACHE/base/rootfs.tmp"
      rm -rf "$rootfs"
      mirror="$(host_mirror "$SUITE" || true)"
      sec_mirror="$(host_mirror "${SUITE}-security" || true)"
      # Debian unstable has no -updates and no -security suite: list only the suite itself.
      suites="$SUITE ${SUITE}-updates"
      case "$SUITE" in
        sid|unstable) suites="$SUITE"; sec_mirror="" ;;
      esac
      keyring_args=()
      [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] \
        && keyring_args=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
      log "debootstrap --variant=minbase ${SUITE} ${mirror:-(debootstrap default mirror)} (log: $CACHE/base/debootstrap.log)"
      # shellcheck disable=SC2086
      if ! debootstrap --variant=minbase "${keyring_args[@]}" "$SUITE" "$rootfs" $mirror \
          >"$CACHE/base/debootstrap.log" 2>&1; then
        tail -n 20 "$CACHE/base/debootstrap.log" >&2
        die "debootstrap failed (see $CACHE/base/debootstrap.log)"
      fi
      # apt sources inside the image: the mirror debootstrap used (as it wrote it),
      # plus -updates and, when this machine has one, the security archive (neither
      # exists for sid).
      main_uri="$(awk '$1 == "deb" { print $2; exit }' "$rootfs/etc/apt/sources.list")"
      [ -n "$main_uri" ] || die "no mirror in the debootstrapped sources.list"
      rm -f "$rootfs/etc/apt/sources.list"
      {
        printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
          "$main_uri" "$suites"
        if [ -n "$sec_mirror" ]; then
          printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$sec_mirror" "$SUITE"
        fi
      } >"$rootfs/etc/apt/sources.list.d/debian.sources"
      # The same tweaks as the official slim image: no docs/man/locales from later
      # installs, apt cleans up after itself, no unneeded apt indexes.
      mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d" "$rootfs/etc/apt/apt.conf.d"
      cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
      cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
      printf 'Acquire::Languages "none";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
      printf 'Acquire::GzipIndexes "true";\n' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
      printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
      case "$SUITE" in
        sid|unstable)
          # This machine's mirror serves a frozen copy of sid whose Release file is past
          # its Valid-Until date: without this every apt-get update in an image build
          # fails ("Release file ... is expired").  Released suites need no such line.
          cat >"$rootfs/etc/apt/apt.conf.d/docker-no-check-valid-until" <<'EOF'
// The mirror's sid Release file is past its Valid-Until date: accept it anyway.
Acquire::Check-Valid-Until "false";
EOF
          ;;
      esac
      # Packages installed in image builds must not try to start their services.
      printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
      chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
      # Slim down: docs, man pages, locales, apt lists and caches, logs.
      find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
      find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
      rm -rf "$rootfs/usr/share/man/"* "$rootfs/usr/share/info/"* "$rootfs/usr/share/groff/"* \
             "$rootfs/usr/share/lintian/"* "$rootfs/usr/share/linda/"*
      find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
      rm -rf "$rootfs/var/lib/apt/lists/"* "$rootfs/var/cache/apt/"*.bin \
             "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/cache/debconf/"*-old \
             "$rootfs/var/log/"*.log "$rootfs/var/log/apt/"* "$rootfs/debootstrap" \
             "$rootfs/tmp/"* "$rootfs/root/.bash_history"
      # Things that belong to the container runtime, not the image.
      : >"$rootfs/etc/hostname"
      rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/machine-id" "$rootfs/var/lib/dbus/machine-id"
      : >"$rootfs/etc/machine-id"
      tar --numeric-owner --xattrs -C "$rootfs" -cf "$TARBALL.tmp" .
      mv "$TARBALL.tmp" "$TARBALL"
      rm -rf "$rootfs"
      log "rootfs tarball: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
    else
      log "re-importing cached tarball $TARBALL"
    fi
    docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      --change "LABEL ${LABEL_NS}.base-recipe=${BASE_RECIPE}" \
      --message "debootstrap --variant=minbase ${SUITE}" \
      "$TARBALL" "$BASE_IMAGE" >/dev/null
    base_ok || die "imported ${BASE_IMAGE} lacks its label"
    docker save -o "$SAVED.tmp" "$BASE_IMAGE" && mv "$SAVED.tmp" "$SAVED"
    log "imported ($(docker image inspect --format '{{.Id}}' "$BASE_IMAGE" | cut -c1-19), $(docker image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%d MB", $1/1000000}'))"
  fi
  # Quick sanity: apt in the base image knows where to fetch from.
  docker run --rm --network none "$BASE_IMAGE" sh -c 'test -s /etc/apt/sources.list.d/debian.sources' \
    || die "base image has no apt sources"
  part_end
}

base_image "$SUITE" "$BASE_IMAGE" "$BASE_RECIPE"
base_image trixie debian:trixie-slim "trixie-minbase-slim-v1"
base_image sid debian:sid-slim "sid-minbase-slim-v1"

[ "${LARAVEL_STACK_SKIP_IMAGES:-0}" = 1 ] && { echo "(skipping support images)"; exit 0; }

# ---------------------------------------------------------------------------
# 5. support images -> local registry
# ---------------------------------------------------------------------------
context_hash() { # dir -> sha256 of every file name + content (plus base recipe)
  local dir=$1
  {
    echo "base=${BASE_RECIPE}"
    (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-64
}
registry_has() { # repo tag -> 0 if the registry serves that manifest
  curl -fsS -o /dev/null -I \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://${REGISTRY}/v2/$1/manifests/$2"
}
support_image() { # name repo tag
  local name=$1 repo=$2 tag=$3 ctx="${IMAGES_DIR}/$1" ref hash have stamp id
  ref="${REGISTRY}/${repo}:${tag}"
  part_begin "image ${ref}"
  [ -f "$ctx/Dockerfile" ] || die "missing $ctx/Dockerfile"
  hash="$(context_hash "$ctx")"
  stamp="$CACHE/stamps/${name}.pushed"
  mkdir -p "$CACHE/stamps"
  have="$(image_label "$ref" "${LABEL_NS}.context-hash")"
  if [ "$have" != "$hash" ] && [ "${LARAVEL_STACK_FORCE_REBUILD:-0}" != 1 ] \
     && registry_has "$repo" "$tag" 2>/dev/null; then
    # A fresh dockerd with a registry that still has the image: pull, don't build.
    if docker pull -q "$ref" >/dev/null 2>&1; then
      have="$(image_label "$ref" "${LABEL_NS}.context-hash")"
      [ "$have" = "$hash" ] && log "pulled unchanged image from the registry"
    fi
  fi
  if [ "$have" != "$hash" ] || [ "${LARAVEL_STACK_FORCE_REBUILD:-0}" = 1 ]; then
    log "building (context hash ${hash:0:12}, log: $CACHE/build-${name}.log)"
    if ! docker build --label "${LABEL_NS}.context-hash=${hash}" -t "$ref" "$ctx" \
        >"$CACHE/build-${name}.log" 2>&1; then
      tail -n 30 "$CACHE/build-${name}.log" >&2
      die "docker build of ${ref} failed (see $CACHE/build-${name}.log)"
    fi
  else
    log "up to date (context hash ${hash:0:12})"
  fi
  id="$(docker image inspect --format '{{.Id}}' "$ref")"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$id" ] && registry_has "$repo" "$tag" 2>/dev/null; then
    log "already pushed"
  else
    log "pushing"
    docker push "$ref" >"$CACHE/push-${name}.log" 2>&1 \
      || { tail -n 20 "$CACHE/push-${name}.log" >&2; die "docker push ${ref} failed"; }
    echo "$id" >"$stamp"
  fi
  log "$ref $(docker image inspect --format '{{index .RepoDigests 0}}' "$ref" 2>/dev/null | sed 's/.*@/@/')"
  part_end
}

support_image nginx   laravel-stack/nginx   bookworm
support_image mariadb laravel-stack/mariadb 10.11
support_image redis   laravel-stack/redis   7
support_image caddy   laravel-stack/caddy   2.6
support_image pebble  laravel-stack/pebble  2.4

printf 'bootstrap-docker: done in %ss (registry http://%s, base %s)\n' \
  "$(( $(date +%s) - SCRIPT_T0 ))" "$REGISTRY" "$BASE_IMAGE"
