#!/usr/bin/env bash
# Run Compose on the local platform's file: `scripts/local-compose.sh ps`, `... logs web`.
#
# Uses `docker compose` (the v2 plugin) when present, else `docker-compose` (Debian's 1.29),
# else installs Debian's docker-compose with apt-get when root (the only one Debian bookworm
# packages). File: examples/compose/compose.yaml (LOCAL_COMPOSE_FILE); project name
# COMPOSE_PROJECT_NAME (default credit-score-local).
# Exit status: Compose's; 3 when no Compose tool can be found or installed.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FILE="${LOCAL_COMPOSE_FILE:-$REPO_ROOT/examples/compose/compose.yaml}"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-credit-score-local}"
say() { printf 'local-compose: %s\n' "$*" >&2; }

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
elif [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  say "installing Debian's docker-compose (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends docker-compose >&2 \
    || { apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 \
         && apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends docker-compose >&2; }; } \
    || { say "NO COMPOSE: apt-get install docker-compose failed"; exit 3; }
  COMPOSE=(docker-compose)
else
  say "NO COMPOSE: neither 'docker compose' nor 'docker-compose' is available (install one)"
  exit 3
fi
exec "${COMPOSE[@]}" -f "$FILE" "$@"
