#!/bin/sh
# Print the hashed requirement list of the base dependencies and the named extras, exported
# from uv.lock (exactly the locked versions, each with its sha256), for
# `uv pip sync --require-hashes` in the image builds and for scripts/docker-wheelhouse.sh.
# Runs in the image builds too: POSIX sh and a uv, nothing of the project but pyproject.toml
# and uv.lock (the dependency layer is rebuilt when they change, not on every source edit).
#
# Usage: scripts/docker-requirements.sh PROJECT_DIR [EXTRA...]
#   PROJECT_DIR holds pyproject.toml and uv.lock.
# Environment
#   UV               the uv to run (default: uv on PATH)
#   TORCH_INDEX_URL  set (e.g. PyTorch's CPU wheel index): torch and its CUDA-only
#                    dependencies (nvidia-*, triton) are left out of the list, for the build
#                    to install torch==<locked version>+cpu from that index instead; the
#                    lock's torch is PyPI's, the CUDA build on Linux.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 PROJECT_DIR [EXTRA...]" >&2; exit 2; }
dir="$1"; shift
uv="${UV:-uv}"

args=""
for extra in "$@"; do args="$args --extra $extra"; done
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  cuda="$(sed -n 's/^name = "\(torch\|triton\|nvidia-[^"]*\)"$/\1/p' "$dir/uv.lock" | sort -u)"
  for name in $cuda; do args="$args --no-emit-package $name"; done
fi
# --frozen: the lock as committed, never re-resolved here (`make lock` does that).
# shellcheck disable=SC2086  # $args is a word list on purpose
exec "$uv" export --quiet --frozen --no-emit-project --no-header --format requirements.txt \
  --project "$dir" $args
