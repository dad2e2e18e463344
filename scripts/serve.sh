#!/usr/bin/env bash
# Set up genweb on this machine and start the web interface on the embedded SQLite store.
#   ./scripts/serve.sh [--host ADDRESS] [--port PORT]
# First run: installs python3-venv if needed (sudo), creates .venv, creates the web user
# 'admin' with a random password (printed once) and serves http://localhost:8080/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_debian_packages python3 python3-venv python3-pip
make_venv ""

export GENWEB_INSTANCE="${GENWEB_INSTANCE:-$PWD/instance}"
.venv/bin/genweb init-db
if [ ! -s "$GENWEB_INSTANCE/htpasswd" ]; then
  password=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')
  printf '%s\n' "$password" | .venv/bin/genweb passwd admin >/dev/null
  cat <<MSG

  A web user was created:  user 'admin', password '$password'
  (shown only now; change it with: GENWEB_INSTANCE=$GENWEB_INSTANCE .venv/bin/genweb passwd admin)

MSG
fi
exec .venv/bin/genweb run "$@"
