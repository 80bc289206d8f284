#!/bin/bash
# Entrypoint of the laravel-stack MariaDB image: the official mysql/mariadb
# images' environment contract on Debian's mariadb-server.
set -euo pipefail

log() { printf '%s [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# `docker run IMAGE --some-flag` means: mariadbd --some-flag
if [ "${1:0:1}" = '-' ]; then
  set -- mariadbd "$@"
fi

# Anything but the server itself (a shell, mysqladmin, ...) runs as is.
case "${1:-}" in
  mariadbd|mysqld) ;;
  *) exec "$@" ;;
esac

# MARIADB_* spellings, as the official mariadb image accepts them.
for v in ROOT_PASSWORD DATABASE USER PASSWORD ALLOW_EMPTY_PASSWORD RANDOM_ROOT_PASSWORD ROOT_HOST; do
  m="MARIADB_$v" o="MYSQL_$v"
  if [ -z "${!o:-}" ] && [ -n "${!m:-}" ]; then export "$o=${!m}"; fi
done

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$DATADIR" /run/mysqld
  # Only touch ownership when needed (a big datadir takes time to chown).
  [ "$(stat -c %U "$DATADIR")" = mysql ] || chown -R mysql:mysql "$DATADIR"
  chown mysql:mysql /run/mysqld
fi

sql_escape() { # single-quoted SQL string literal content
  local s=${1//\\/\\\\}
  printf '%s' "${s//\'/\\\'}"
}

init_datadir() {
  if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] \
     && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
    die "database is uninitialized and no password option is specified:
    set one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD and MYSQL_RANDOM_ROOT_PASSWORD"
  fi
  if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
    MYSQL_ROOT_PASSWORD="$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)"
    export MYSQL_ROOT_PASSWORD
    log "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
  fi

  log "initializing database files in $DATADIR"
  # Initialise into a scratch dir inside the volume, then move in: a start that
  # dies half-way leaves no datadir that would look initialised next time.
  local tmp="$DATADIR/.init-tmp"
  rm -rf "$tmp"
  install -d -o mysql -g mysql "$tmp"
  mariadb-install-db --user=mysql --datadir="$tmp" --auth-root-authentication-method=normal \
    --skip-test-db --rpm --cross-bootstrap --skip-name-resolve >/dev/null

  log "starting temporary server"
  "$@" --user=mysql --datadir="$tmp" --skip-networking --socket="$SOCKET.init" \
    --default-time-zone=SYSTEM --skip-log-bin &
  local pid=$! i
  for (( i = 0; i < 60; i++ )); do
    if mariadb-admin --socket="$SOCKET.init" -uroot ping --silent >/dev/null 2>&1; then break; fi
    kill -0 "$pid" 2>/dev/null || die "temporary server exited"
    sleep 1
  done
  mariadb-admin --socket="$SOCKET.init" -uroot ping --silent >/dev/null 2>&1 \
    || die "temporary server did not start within 60s"

  local rootpw root_host db user pw
  rootpw="$(sql_escape "${MYSQL_ROOT_PASSWORD:-}")"
  root_host="$(sql_escape "${MYSQL_ROOT_HOST:-%}")"
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    # Keep only root@localhost and the system accounts (as the official image).
    echo "DELETE FROM mysql.global_priv WHERE user NOT IN ('mysql.sys', 'mariadb.sys') AND NOT (user = 'root' AND host = 'localhost');"
    echo "FLUSH PRIVILEGES;"
    echo "DROP DATABASE IF EXISTS test;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '${rootpw}';"
    # root from other hosts (default '%', which also covers 127.0.0.1 over TCP).
    if [ "${MYSQL_ROOT_HOST:-%}" != localhost ]; then
      echo "CREATE USER IF NOT EXISTS 'root'@'${root_host}' IDENTIFIED BY '${rootpw}';"
      echo "GRANT ALL ON *.* TO 'root'@'${root_host}' WITH GRANT OPTION;"
    fi
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      db="${MYSQL_DATABASE//\`/\`\`}"
      echo "CREATE DATABASE IF NOT EXISTS \`${db}\`;"
    fi
    if [ -n "${MYSQL_USER:-}" ]; then
      [ -n "${MYSQL_PASSWORD:-}" ] || die "MYSQL_USER is set but MYSQL_PASSWORD is not"
      [ "$MYSQL_USER" != root ] || die "MYSQL_USER=root: use MYSQL_ROOT_PASSWORD for root"
      user="$(sql_escape "$MYSQL_USER")"
      pw="$(sql_escape "$MYSQL_PASSWORD")"
      echo "CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY '${pw}';"
      if [ -n "${MYSQL_DATABASE:-}" ]; then
        echo "GRANT ALL PRIVILEGES ON \`${db//_/\\_}\`.* TO '${user}'@'%';"
      fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --protocol=socket --socket="$SOCKET.init" -uroot

  local f client=(mariadb --protocol=socket --socket="$SOCKET.init" -uroot "--password=${MYSQL_ROOT_PASSWORD:-}")
  [ -n "${MYSQL_DATABASE:-}" ] && client+=("$MYSQL_DATABASE")
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh)     log "running $f"; . "$f" ;;
      *.sql)    log "running $f"; "${client[@]}" <"$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${client[@]}" ;;
      *)        log "ignoring $f" ;;
    esac
  done

  log "stopping temporary server"
  mariadb-admin --socket="$SOCKET.init" -uroot "--password=${MYSQL_ROOT_PASSWORD:-}" shutdown
  wait "$pid" || true

  # Move the initialised files into place.
  shopt -s dotglob
  local item
  for item in "$tmp"/*; do
    mv "$item" "$DATADIR/"
  done
  shopt -u dotglob
  rmdir "$tmp"
  log "database initialized"
}

if [ ! -d "$DATADIR/mysql" ]; then
  init_datadir "$@"
else
  log "existing datadir: skipping initialization"
fi

log "starting: $* (0.0.0.0:3306)"
exec "$@" --user=mysql
