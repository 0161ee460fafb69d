# shellcheck shell=bash
# The layout of the gitignored .docker/ state folder: where scripts/docker-setup.sh keeps the
# engine it starts and what scripts/docker-stop.sh reads back (the build scripts keep their
# caches there too). One place for what these scripts agree on. Sourced, not run.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${DOCKER_STATE_DIR:-$REPO_ROOT/.docker}"
ENGINE_DIR="$STATE_DIR/engine"
PID_FILE="$ENGINE_DIR/dockerd.pid"
LOG_FILE="$ENGINE_DIR/dockerd.log"
# written by setup with the pid it started; stop touches nothing without it
MARKER="$ENGINE_DIR/started-by-setup"
export REPO_ROOT STATE_DIR ENGINE_DIR PID_FILE LOG_FILE MARKER
