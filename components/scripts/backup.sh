# shellcheck shell=sh
# The release's backup, before `migrate`: a consistent dump of the app database (one
# transaction, routines and triggers) into the backups volume on the deploy engine, named by
# time and build, the last N kept. Runs where the deploy engine's docker CLI is (this machine,
# or the server over ssh). The dump runs in a one-shot container of the database image on the
# stack's network; the app user's password goes from the MySQL container's own environment to
# it through a pipe: never on a command line, never printed. A failed or incomplete dump (no
# "Dump completed" trailer) stops the release before `migrate` and leaves nothing behind.
#
# $1 the engine (DOCKER_HOST; empty: the CLI's default), $2 the MySQL container, $3 the
# database image, $4 the network, $5 the database, $6 the backups volume, $7 the stack
# (project/stack), $8 the build (repository@sha256:…), $9 N.
set -eu
[ -z "$1" ] || export DOCKER_HOST="$1"
mysql=$2 image=$3 network=$4 database=$5 volume=$6 stack=$7 build=$8 keep=$9
digest=${build##*@sha256:}
taken=$(date -u +%Y%m%dT%H%M%SZ)
name="$taken-$(printf '%.16s' "$digest").sql.gz"
header="-- laravel-stack backup: stack=$stack database=$database build=$build taken=$taken"
start=$(date +%s)

# In the one-shot: the password on stdin; $1 host, $2 database, $3 file, $4 header, $5 N.
# shellcheck disable=SC2016 # expanded by the one-shot's shell
dump='set -eu
IFS= read -r MYSQL_PWD
export MYSQL_PWD
tool=$(command -v mariadb-dump || command -v mysqldump)
out=/backups/$3
trap "rm -f /backups/$3.partial /tmp/rc" EXIT
{
  printf "%s\n" "$4"
  "$tool" --host="$1" --user="$MYSQL_USER" --single-transaction --routines --triggers \
    --no-tablespaces --hex-blob --default-character-set=utf8mb4 \
    --databases "$2" --add-drop-database || echo "$?" > /tmp/rc
} | gzip -c > "$out.partial"
if [ -s /tmp/rc ]; then echo "backup: the dump failed (exit $(cat /tmp/rc))" >&2; exit 1; fi
if ! gzip -dc "$out.partial" | tail -n 1 | grep -q "^-- Dump completed"; then
  echo "backup: the dump is incomplete (no \"Dump completed\" at its end)" >&2; exit 1
fi
mv "$out.partial" "$out"
ls /backups | grep -E "^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}\.sql\.gz$" | sort -r | tail -n +$(($5 + 1)) \
  | while read -r old; do rm -f "/backups/$old" && echo "backup: removed $old" >&2; done
wc -c < "$out"'

user=$(docker exec "$mysql" printenv MYSQL_USER)
password=$(docker exec "$mysql" printenv MYSQL_PASSWORD)
bytes=$(printf '%s\n' "$password" | docker run --rm --interactive --pull never --network "$network" \
  --env MYSQL_USER="$user" --volume "$volume:/backups" --entrypoint sh "$image" \
  -c "$dump" backup "$mysql" "$database" "$name" "$header" "$keep")
echo "backup: $name ($bytes bytes, $(($(date +%s) - start)) s) of $database for $build"
