# shellcheck shell=sh
# Restore one of the release backups (backup.sh) into the stack's database, where the deploy
# engine's docker CLI is (this machine, or the server over ssh). Refuses a backup whose header
# names another stack or database. The dump replaces the database whole (DROP DATABASE, CREATE,
# its tables and rows): what was written after the backup is gone. The app user's password goes
# from the MySQL container's environment to the one-shot through a pipe, as in backup.sh.
#
# $1 the engine (DOCKER_HOST; empty: the CLI's default), $2 the MySQL container, $3 the
# database image, $4 the network, $5 the database, $6 the backups volume, $7 the stack
# (project/stack), $8 the backup's name.
set -eu
[ -z "$1" ] || export DOCKER_HOST="$1"
mysql=$2 image=$3 network=$4 database=$5 volume=$6 stack=$7 name=$8
if ! printf '%s\n' "$name" | grep -qE '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}\.sql\.gz$'; then
  echo "restore: not a backup's name: $name (TIME-BUILD.sql.gz, as the releases output names it)" >&2
  exit 2
fi
# shellcheck disable=SC2016 # expanded by the one-shot's shell
header=$(docker run --rm --pull never --network none --volume "$volume:/backups:ro" \
  --entrypoint sh "$image" -c '[ -f "/backups/$1" ] && gzip -dc "/backups/$1" | head -n 1' \
  restore "$name") || {
  echo "restore: no backup $name in the volume $volume" >&2
  exit 1
}
case "$header" in
  "-- laravel-stack backup: stack=$stack database=$database build="*) ;;
  *)
    echo "restore: refused: $name is not a backup of $database of $stack (its header: ${header:-none})" >&2
    exit 1
    ;;
esac
user=$(docker exec "$mysql" printenv MYSQL_USER)
password=$(docker exec "$mysql" printenv MYSQL_PASSWORD)
start=$(date +%s)
# shellcheck disable=SC2016 # expanded by the one-shot's shell
printf '%s\n' "$password" | docker run --rm --interactive --pull never --network "$network" \
  --env MYSQL_USER="$user" --volume "$volume:/backups:ro" --entrypoint sh "$image" -c '
set -eu
IFS= read -r MYSQL_PWD
export MYSQL_PWD
tool=$(command -v mariadb || command -v mysql)
gzip -dc "/backups/$2" | "$tool" --host="$1" --user="$MYSQL_USER" --default-character-set=utf8mb4
' restore "$mysql" "$name"
build=${header#*build=}
echo "restored $name (build ${build%% *}) into $database of $stack in $(($(date +%s) - start)) s"
