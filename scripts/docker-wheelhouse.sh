#!/usr/bin/env bash
# Fill wheelhouse/ (gitignored) with every wheel the images need, using the host's pip
# and its configuration (indexes, find-links, CA), so that image builds run offline:
# scripts/docker-build.sh builds with PIP_NO_INDEX=1 and --network none when the
# wheelhouse is complete. Also the way to prepare an air-gapped build.
#
# Usage: scripts/docker-wheelhouse.sh [EXTRA...]     (default: serve rollout web train server, i.e. all
#        both images need: the base dependencies, those extras, the build system)
#
# torch comes as the CPU build (torch==X+cpu, see scripts/docker-requirements.sh): give
# pip a place that has it (this machine: /opt/wheels via its pip config; elsewhere e.g.
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu). PYTHON picks the
# interpreter (a CPython 3.11, as in the images); WHEELHOUSE_DIR the folder.
# constraints.txt (when present) applies, as in the image builds. A stamp of the
# requirement list and the constraints makes a second run a no-op.
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

reqs="$(mktemp)"
trap 'rm -f "$reqs"' EXIT
PYTHON="$PYTHON" "$REPO_ROOT/scripts/docker-requirements.sh" "$REPO_ROOT/pyproject.toml" build-system "${extras[@]}" >"$reqs"
# The images install under constraints.txt when the project has one: so does the wheelhouse.
constraint_args=()
constraints="$REPO_ROOT/constraints.txt"
if [[ -f "$constraints" ]]; then
  constraint_args=(-c "$constraints")
  cat "$constraints" >>"$reqs.stamp"
fi
cat "$reqs" >>"$reqs.stamp"
stamp="$(sha256sum "$reqs.stamp" | cut -c1-64)"
rm -f "$reqs.stamp"
if [[ -f "$OUT/.stamp" && "$(cat "$OUT/.stamp")" == "$stamp" ]]; then
  say "$OUT is up to date ($(find "$OUT" -name '*.whl' | wc -l) wheels)"
  exit 0
fi

say "collecting wheels for: $(tr '\n' ' ' <"$reqs")"
start=$SECONDS
# Into a fresh folder (no stale wheels), reusing the wheels of the last run (--find-links).
# (The host config may name local index folders that lack some projects: pip warns per
# project; those warnings are dropped.)
next="$state/wheelhouse.next"
rm -rf "$next"
mkdir -p "$OUT"  # an absent --find-links folder makes pip warn once per project looked up
"$PYTHON" -m pip wheel --quiet --wheel-dir "$next" --find-links "$OUT" --prefer-binary -r "$reqs" "${constraint_args[@]}" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) >&2
# Only a CPU pin (TORCH_VARIANT=cpu, the default) promises a CPU wheel and no CUDA ones;
# TORCH_VARIANT='' takes torch as published, CUDA dependencies and all.
if grep -q '^torch==.*+cpu' "$reqs" && ! find "$next" -name 'torch-*+cpu-*.whl' | grep -q .; then
  say "no CPU torch wheel collected"; exit 1
fi
if grep -q '^torch==.*+cpu' "$reqs" && find "$next" -name 'nvidia_*.whl' | grep -q .; then
  say "CUDA wheels (nvidia_*) collected: a CUDA torch slipped in"; exit 1
fi
rm -rf "$OUT"
mv "$next" "$OUT"
printf '%s\n' "$stamp" >"$OUT/.stamp"
say "$OUT: $(find "$OUT" -name '*.whl' | wc -l) wheels, $(du -sh "$OUT" | cut -f1), $((SECONDS - start))s"
