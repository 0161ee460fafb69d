#!/usr/bin/env bash
# The container tier: builds both images and runs them (tests/containers, marker
# `containers`). The tests' fixtures call scripts/docker-setup.sh (reuse or install+start
# dockerd), docker-base-image.sh, docker-wheelhouse.sh and docker-build.sh, and stop a
# dockerd they started with docker-stop.sh at the end.
#
# Usage: scripts/docker-test.sh [PYTEST-ARGS...]   e.g. -x, -k serve, tests/containers/test_images.py
#   PYTHON: the interpreter with the project and its dev extra installed (default .venv)
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
cd "$REPO_ROOT"
exec "$PY" -m pytest -m containers "$@"
