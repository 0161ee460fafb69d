#!/usr/bin/env bash
# Stop the local platform (scripts/local-up.sh): containers, network and, unless
# KEEP_DATA=1, the MLflow volume (registered versions).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
args=(down --remove-orphans --timeout 10)
[[ "${KEEP_DATA:-0}" == 1 ]] || args+=(--volumes)
rc=0; bash "$REPO_ROOT/scripts/local-compose.sh" "${args[@]}" || rc=$?
(( rc == 3 )) && exit 0  # no Compose tool: nothing can be running
exit "$rc"
