#!/usr/bin/env bash
# The local platform without Kubernetes (examples/compose/compose.yaml): MLflow, two training
# runs (registered versions 1 and 2), stable and canary predictors, an nginx gateway
# splitting traffic STABLE_WEIGHT:CANARY_WEIGHT (default 90:10), and the web client.
#
# Usage: scripts/local-up.sh          (make local-up; stop with make local-down)
#
# - A Docker engine: scripts/docker-setup.sh (reuses a running one).
# - Images: SERVE_IMAGE / TRAIN_IMAGE (default credit-score-{serve,train}:<pyproject version>)
#   are built with scripts/docker-build.sh when missing; GATEWAY_IMAGE (default
#   credit-score-gateway:local) with `compose build gateway`. BASE_IMAGE is the base of all
#   three; when unset and python:3.11-slim-bookworm cannot be found or pulled, the local
#   Debian base of scripts/docker-base-image.sh.
# - Then `compose up -d` and a wait (LOCAL_UP_TIMEOUT_S, default 900) until the gateway and
#   the web client answer. Ports on 127.0.0.1: MLFLOW_PORT 5000, GATEWAY_PORT 8080, WEB_PORT 8000.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
say() { printf 'local-up: %s\n' "$*" >&2; }
compose() { bash scripts/local-compose.sh "$@"; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

setup_rc=0; bash scripts/docker-setup.sh >/dev/null || setup_rc=$?
(( setup_rc == 0 )) || { say "no Docker engine (scripts/docker-setup.sh exited $setup_rc)"; exit "$setup_rc"; }

version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -n1)"
export SERVE_IMAGE="${SERVE_IMAGE:-credit-score-serve:${version:-dev}}"
export TRAIN_IMAGE="${TRAIN_IMAGE:-credit-score-train:${version:-dev}}"
export GATEWAY_IMAGE="${GATEWAY_IMAGE:-credit-score-gateway:local}"

base_image() {
  if [[ -n "${BASE_IMAGE:-}" ]]; then echo "$BASE_IMAGE"; return; fi
  if have_image python:3.11-slim-bookworm || docker pull -q python:3.11-slim-bookworm >/dev/null 2>&1; then
    echo python:3.11-slim-bookworm; return
  fi
  bash scripts/docker-base-image.sh >&2
  echo credit-score-base:bookworm
}

missing=()
have_image "$SERVE_IMAGE" || missing+=(serve)
have_image "$TRAIN_IMAGE" || missing+=(train)
if (( ${#missing[@]} )); then
  BASE_IMAGE="$(base_image)"; export BASE_IMAGE
  say "building ${missing[*]} on $BASE_IMAGE (scripts/docker-build.sh)"
  IMAGE_TAG="${SERVE_IMAGE##*:}" bash scripts/docker-build.sh "${missing[@]}"
  [[ "${TRAIN_IMAGE##*:}" == "${SERVE_IMAGE##*:}" ]] || { say "SERVE_IMAGE and TRAIN_IMAGE tags differ; build them yourself"; exit 2; }
fi
if ! have_image "$GATEWAY_IMAGE"; then
  BASE_IMAGE="$(base_image)"; export BASE_IMAGE
  say "building $GATEWAY_IMAGE on $BASE_IMAGE"
  compose build gateway
fi

say "starting (project ${COMPOSE_PROJECT_NAME:-credit-score-local}; stable:canary = ${STABLE_WEIGHT:-90}:${CANARY_WEIGHT:-10})"
compose up -d

deadline=$(( SECONDS + ${LOCAL_UP_TIMEOUT_S:-900} ))
for url in "http://127.0.0.1:${GATEWAY_PORT:-8080}/v2/models/credit-score/ready" "http://127.0.0.1:${WEB_PORT:-8000}/healthz"; do
  until curl -sf -o /dev/null "$url" 2>/dev/null || python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null; do
    if (( SECONDS > deadline )); then
      say "$url did not answer in time; state and logs:"
      compose ps >&2 || true
      compose logs --tail 30 >&2 || true
      exit 1
    fi
    sleep 3
  done
done
cat <<TXT
local platform up:
  web client     http://127.0.0.1:${WEB_PORT:-8000}/        (API docs: /docs)
  gateway (v2)   http://127.0.0.1:${GATEWAY_PORT:-8080}/v2/models/credit-score   stable:canary ${STABLE_WEIGHT:-90}:${CANARY_WEIGHT:-10}
  MLflow         http://127.0.0.1:${MLFLOW_PORT:-5000}/
  state / logs   scripts/local-compose.sh ps | logs -f
stop with: make local-down
TXT
