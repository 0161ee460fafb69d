#!/usr/bin/env bash
# Build the project's images: credit-score-serve (Dockerfile.serve) and
# credit-score-train (Dockerfile.train).
#
# Usage: scripts/docker-build.sh [serve] [train]      (default: both)
#
# Environment
#   BASE_IMAGE      base for both images (default python:3.11-slim-bookworm; on machines
#                   without a registry: scripts/docker-base-image.sh, credit-score-base:bookworm)
#   IMAGE_PREFIX    image names are $IMAGE_PREFIX-serve / -train (default credit-score)
#   IMAGE_TAG       default: the version in pyproject.toml
#   WHEELHOUSE      auto (default): run scripts/docker-wheelhouse.sh first (a no-op when
#                   wheelhouse/ is up to date; on failure the build goes online); 0: don't
#   OFFLINE         1: PIP_NO_INDEX=1 and `--network none` (needs a complete wheelhouse/);
#                   auto (default): offline when scripts/docker-wheelhouse.sh finished
#   EXTRA_CA_CERT   a PEM file of CA certificates to trust (build and runtime)
#   TORCH_INDEX_URL the train image takes torch==<locked>+cpu from this index (or the
#                   wheelhouse) instead of the lock's CUDA build (Dockerfile.train)
#   TRAIN_EXTRAS    optional-dependency groups of the training image (default
#                   train,server; the wheelhouse must hold what they need)
#   SERVE_EXTRAS    the same for the serving image (default serve,rollout,web)
#   IMAGE_SOURCE    org.opencontainers.image.source (default: the git remote `origin`)
#   DOCKER_BUILD_ARGS   more arguments for `docker build` (word-split)
#   BUILD_TIMES_FILE    append "<image> <seconds>" lines here
#
# The build context is staged under .docker/context.*/: the files git sees (tracked and
# untracked-but-not-ignored, i.e. what a clean checkout holds), wheelhouse/ (hard links)
# and the extra CA, so nothing is written into the source tree and local clutter never
# reaches the context. .dockerignore applies on top, as for a plain
# `docker build -f Dockerfile.serve .` in the repository.
set -euo pipefail

# shellcheck source=scripts/docker-engine-paths.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker-engine-paths.sh"
PREFIX="${IMAGE_PREFIX:-credit-score}"

say() { printf 'docker-build: %s\n' "$*" >&2; }

targets=("$@")
(( ${#targets[@]} )) || targets=(serve train)
for t in "${targets[@]}"; do
  [[ "$t" == serve || "$t" == train ]] || { say "unknown image '$t' (serve, train)"; exit 2; }
done

version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO_ROOT/pyproject.toml" | head -n1)"
tag="${IMAGE_TAG:-${version:-dev}}"
revision="$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ "$revision" != unknown ]] && [[ -n "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  revision="$revision-dirty"
fi
source_url="${IMAGE_SOURCE:-$(git -C "$REPO_ROOT" remote get-url origin 2>/dev/null || true)}"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Stage the context (one folder per run: parallel builds do not collide).
mkdir -p "$STATE_DIR"
CONTEXT="$(mktemp -d "$STATE_DIR/context.XXXXXX")"
trap 'rm -rf "$CONTEXT"' EXIT
if git -C "$REPO_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$REPO_ROOT" && git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do if [[ -e "$f" ]]; then printf '%s\0' "$f"; fi; done \
    | tar --null -T - -cf -) | tar -C "$CONTEXT" -xf -
else
  tar -C "$REPO_ROOT" --exclude=./.docker --exclude=./.venv --exclude=./.git --exclude=./wheelhouse -cf - . \
    | tar -C "$CONTEXT" -xf -
fi
wheelhouse="${WHEELHOUSE_DIR:-$REPO_ROOT/wheelhouse}"
if [[ "${WHEELHOUSE:-auto}" == auto ]]; then
  IFS=, read -r -a serve_extras <<<"${SERVE_EXTRAS:-serve,rollout,web}"
  IFS=, read -r -a train_extras <<<"${TRAIN_EXTRAS:-train,server}"
  bash "$REPO_ROOT/scripts/docker-wheelhouse.sh" "${serve_extras[@]}" "${train_extras[@]}" \
    || say "no wheelhouse (scripts/docker-wheelhouse.sh failed): pip in the build goes to the network"
fi
if [[ -d "$wheelhouse" ]]; then
  (
    flock -s 9  # not while scripts/docker-wheelhouse.sh rewrites it
    cp -al "$wheelhouse" "$CONTEXT/wheelhouse" 2>/dev/null || cp -a "$wheelhouse" "$CONTEXT/wheelhouse"
  ) 9>"$STATE_DIR/wheelhouse.lock"
fi
if [[ -n "${EXTRA_CA_CERT:-}" ]]; then
  [[ -s "$EXTRA_CA_CERT" ]] || { say "EXTRA_CA_CERT=$EXTRA_CA_CERT is not a file"; exit 2; }
  mkdir -p "$CONTEXT/certs"
  cp "$EXTRA_CA_CERT" "$CONTEXT/certs/extra-ca.crt"
fi

offline="${OFFLINE:-auto}"
if [[ "$offline" == auto ]]; then
  offline=0
  [[ -f "$wheelhouse/.stamp" ]] && offline=1
fi

args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created"
      --build-arg "SOURCE=$source_url")
[[ -n "${BASE_IMAGE:-}" ]] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
if [[ "$offline" == 1 ]]; then
  args+=(--build-arg PIP_NO_INDEX=1 --network none)
fi
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST TORCH_INDEX_URL; do
  [[ -n "${!var:-}" ]] && args+=(--build-arg "$var=${!var}")
done
# shellcheck disable=SC2206  # DOCKER_BUILD_ARGS is a word list on purpose
extra=(${DOCKER_BUILD_ARGS:-})

for t in "${targets[@]}"; do
  target_args=()
  [[ "$t" == train && -n "${TRAIN_EXTRAS:-}" ]] && target_args+=(--build-arg "EXTRAS=$TRAIN_EXTRAS")
  [[ "$t" == serve && -n "${SERVE_EXTRAS:-}" ]] && target_args+=(--build-arg "EXTRAS=$SERVE_EXTRAS")
  image="$PREFIX-$t:$tag"
  say "building $image (base ${BASE_IMAGE:-python:3.11-slim-bookworm}, offline=$offline)"
  start=$SECONDS
  if ! docker build -f "$CONTEXT/Dockerfile.$t" -t "$image" "${args[@]}" "${target_args[@]}" "${extra[@]}" "$CONTEXT" >&2; then
    # The train image's CUDA torch needs about 20 GB while it builds: say how much there was.
    root="$(docker info -f '{{.DockerRootDir}}' 2>/dev/null || true)"
    say "docker build of $image failed (output above); free space: $(df -h --output=avail "${root:-/}" | tail -n1 | tr -d ' ') on ${root:-/} (docker's data root)"
    exit 1
  fi
  seconds=$((SECONDS - start))
  size="$(docker image inspect -f '{{.Size}}' "$image")"
  say "built $image in ${seconds}s, $((size / 1000000)) MB"
  if [[ -n "${BUILD_TIMES_FILE:-}" ]]; then
    printf '%s %s %s\n' "$image" "$seconds" "$size" >>"$BUILD_TIMES_FILE"
  fi
done
