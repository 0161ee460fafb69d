#!/usr/bin/env bash
# Fill wheelhouse/ (gitignored) with every file the images install, using the host's pip
# and its configuration (indexes, find-links, CA), so that image builds run offline:
# scripts/docker-build.sh builds with PIP_NO_INDEX=1 and --network none when the
# wheelhouse is complete. Also the way to prepare an air-gapped build.
#
# Usage: scripts/docker-wheelhouse.sh [EXTRA...]     (default: serve rollout web train server, i.e. all
#        both images need)
#
# What: the hashed export of uv.lock for those extras (scripts/docker-requirements.sh), each
# file downloaded and checked against the lock's sha256 (pip download --require-hashes: the
# very files the image builds then hash-check again), plus what is not in the lock: the
# build system of pyproject.toml (setuptools, wheel: the project's own wheel and the one
# sdist-only package are built in the image) and uv itself (required-version).
# TORCH_INDEX_URL set: torch==<locked>+cpu instead of the lock's CUDA torch (give pip a place
# that has it, e.g. PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu).
# PYTHON picks the interpreter (a CPython 3.11, as in the images); WHEELHOUSE_DIR the folder.
# A stamp of the requirement lists makes a second run a no-op.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${WHEELHOUSE_DIR:-$REPO_ROOT/wheelhouse}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then PYTHON="$REPO_ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
extras=("$@")
(( ${#extras[@]} )) || extras=(serve rollout web train server)

say() { printf 'docker-wheelhouse: %s\n' "$*" >&2; }

"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { say "$PYTHON is not CPython 3.11 (the images' Python); set PYTHON"; exit 2; }

# Exclusive while it (re)writes the folder; docker-build.sh copies it under a shared lock.
state="${DOCKER_STATE_DIR:-$REPO_ROOT/.docker}"
mkdir -p "$state"
exec 9>"$state/wheelhouse.lock"
flock 9

reqs="$(mktemp)"; tools="$(mktemp)"
trap 'rm -f "$reqs" "$tools"' EXIT
UV="$(bash "$REPO_ROOT/scripts/uv.sh")" "$REPO_ROOT/scripts/docker-requirements.sh" "$REPO_ROOT" "${extras[@]}" >"$reqs"
uv_version="$(sed -n 's/^required-version *= *"==\([0-9.]*\)"/\1/p' "$REPO_ROOT/pyproject.toml" | head -n1)"
"$PYTHON" - "$REPO_ROOT/pyproject.toml" >"$tools" <<'PY'
import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]))
PY
echo "uv==$uv_version" >>"$tools"
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
  echo "torch==$(sed -n '/^name = "torch"$/{n;s/^version = "\(.*\)"$/\1/p;}' "$REPO_ROOT/uv.lock")+cpu" >>"$tools"
fi
stamp="$(cat "$reqs" "$tools" | sha256sum | cut -c1-64)"
if [[ -f "$OUT/.stamp" && "$(cat "$OUT/.stamp")" == "$stamp" ]]; then
  say "$OUT is up to date ($(find "$OUT" -name '*.whl' | wc -l) wheels)"
  exit 0
fi

say "downloading $(grep -c '^[A-Za-z]' "$reqs") locked packages and: $(tr '\n' ' ' <"$tools")"
start=$SECONDS
# Into a fresh folder (no stale files), reusing the files of the last run (--find-links).
# (The host config may name local index folders that lack some projects: pip warns per
# project; those warnings are dropped.)
next="$state/wheelhouse.next"
rm -rf "$next"
mkdir -p "$OUT"  # an absent --find-links folder makes pip warn once per project looked up
"$PYTHON" -m pip download --quiet --no-deps --require-hashes --dest "$next" --find-links "$OUT" -r "$reqs" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) >&2
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$next" --find-links "$OUT" -r "$tools" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) >&2
if [[ -n "${TORCH_INDEX_URL:-}" ]] && find "$next" -name 'nvidia_*.whl' | grep -q .; then
  say "CUDA wheels (nvidia_*) collected for a CPU torch"; exit 1
fi
rm -rf "$OUT"
mv "$next" "$OUT"
printf '%s\n' "$stamp" >"$OUT/.stamp"
say "$OUT: $(find "$OUT" -name '*.whl' | wc -l) wheels, $(du -sh "$OUT" | cut -f1), $((SECONDS - start))s"
