#!/bin/sh
# A release hook, as a team writes one (the e2e runs it at release.hooks.before_switch): boot
# the new build once before it gets traffic, and stop the release when it cannot. It prints
# what a careless script prints (the env's database password): the step's output shows
# [secret] in its place (hook.php).
set -eu
echo "warming $APP_BUILD as $(id -un) (database password: $DB_PASSWORD)"
if [ -e deploy/FAIL ]; then
  echo "warm: $(cat deploy/FAIL)" >&2
  exit 7
fi
php artisan route:list --path=up > /dev/null
echo "warm: ok"
