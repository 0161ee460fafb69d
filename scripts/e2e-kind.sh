#!/usr/bin/env bash
# End-to-end test on a throwaway kind cluster: create the cluster, install the pinned
# prerequisites (cert-manager, Gateway API CRDs, Envoy Gateway, KServe in Standard mode with
# the Gateway API), build both images, side-load them, `helm install` the chart with
# manifests/values-kind.yaml, wait for the training Job and the InferenceService, then run
# `pytest -m cluster` (tests/cluster: REST + gRPC through the Gateway, canary split,
# promotion, `helm rollback`, shadow, `helm test`).
#
# Usage: scripts/e2e-kind.sh
#
# Environment
#   CLUSTER_NAME    kind cluster name (default credit-score)
#   KEEP_CLUSTER    1: leave the cluster running at the end (default: delete it)
#   REUSE_CLUSTER   1: use an existing cluster of that name and skip the prerequisites
#   SKIP_BUILD      1: do not build the images (they must exist locally with IMAGE_TAG)
#   IMAGE_TAG       tag of both images (default e2e)
#   E2E_RELEASE     Helm release (default credit); E2E_NAMESPACE (default credit-score)
#   E2E_ARTIFACTS   where logs, events and the JUnit report go (default .local/e2e)
#   PYTEST_ARGS     extra pytest arguments
# Versions of everything installed: manifests/versions.env.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
# shellcheck source=manifests/versions.env
source "$REPO_ROOT/manifests/versions.env"

CLUSTER_NAME="${CLUSTER_NAME:-credit-score}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
REUSE_CLUSTER="${REUSE_CLUSTER:-0}"
SKIP_BUILD="${SKIP_BUILD:-0}"
IMAGE_TAG="${IMAGE_TAG:-e2e}"
RELEASE="${E2E_RELEASE:-credit}"
NAMESPACE="${E2E_NAMESPACE:-credit-score}"
VALUES="$REPO_ROOT/manifests/values-kind.yaml"
ARTIFACTS="${E2E_ARTIFACTS:-$REPO_ROOT/.local/e2e}"
PYTHON="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
CONTEXT="kind-$CLUSTER_NAME"

say() { printf '\ne2e-kind: %s\n' "$*" >&2; }
die() { printf 'e2e-kind: error: %s\n' "$*" >&2; exit 1; }

# retry N CMD...: run CMD up to N times, 20 s apart (webhooks of just-installed controllers
# take a moment to serve even after their Deployments report Available).
retry() {
  local n="$1" i
  shift
  for ((i = 1; i <= n; i++)); do
    "$@" && return 0
    (( i < n )) && { say "attempt $i of $n failed: $*; retrying in 20 s"; sleep 20; }
  done
  return 1
}

# version_ge HAVE WANT: true when HAVE >= WANT (dotted numbers, leading v ignored).
version_ge() {
  local have="${1#v}" want="${2#v}"
  [[ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" == "$want" ]]
}

# ---- preflight: every missing or too-old tool is named before anything starts ---------
HELM="${HELM:-$(command -v helm || true)}"
[[ -n "$HELM" ]] || { [[ -x "$REPO_ROOT/.tools/bin/helm" ]] && HELM="$REPO_ROOT/.tools/bin/helm"; }
KUBECTL="${KUBECTL:-$(command -v kubectl || true)}"
KIND="${KIND:-$(command -v kind || true)}"

preflight() {
  local problems=() v
  if ! command -v docker >/dev/null; then
    problems+=("docker: not found (install Docker Engine or Docker Desktop)")
  elif ! docker info >/dev/null 2>&1; then
    problems+=("docker: found, but the daemon does not answer (start it; is your user in the docker group?)")
  else
    say "docker $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')"
  fi
  if [[ -z "$KIND" ]]; then
    problems+=("kind: not found (want >= v$MIN_KIND_VERSION; https://kind.sigs.k8s.io, pinned $KIND_VERSION)")
  else
    v="$("$KIND" version 2>/dev/null | awk '{print $2}')"
    version_ge "$v" "$MIN_KIND_VERSION" || problems+=("kind: $v is older than v$MIN_KIND_VERSION")
    say "kind $v"
  fi
  if [[ -z "$KUBECTL" ]]; then
    problems+=("kubectl: not found (want >= v$MIN_KUBECTL_VERSION)")
  else
    v="$("$KUBECTL" version --client 2>/dev/null | sed -n 's/^Client Version: *//p')"
    version_ge "$v" "$MIN_KUBECTL_VERSION" || problems+=("kubectl: '$v' is older than v$MIN_KUBECTL_VERSION")
    say "kubectl $v"
  fi
  if [[ -z "$HELM" ]]; then
    problems+=("helm: not found (want >= v$MIN_HELM_VERSION; \`make tools\` puts the project's pinned helm in .tools/bin)")
  else
    v="$("$HELM" version --template '{{.Version}}' 2>/dev/null)"
    version_ge "$v" "$MIN_HELM_VERSION" || problems+=("helm: '$v' is older than v$MIN_HELM_VERSION")
    say "helm $v"
  fi
  if ! "$PYTHON" -c 'import pytest, scipy, httpx, tritonclient.grpc' 2>/dev/null; then
    problems+=("python: $PYTHON lacks pytest/scipy/httpx/tritonclient (run \`make venv\`)")
  fi
  if (( ${#problems[@]} )); then
    printf 'e2e-kind: preflight failed:\n' >&2
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
  fi
}

# ---- diagnostics and clean-up ------------------------------------------------------------
dump_diagnostics() {
  mkdir -p "$ARTIFACTS"
  say "dumping cluster state, events and logs to $ARTIFACTS"
  {
    "$KUBECTL" --context "$CONTEXT" get nodes,pods,services,deployments,jobs,pvc -A -o wide || true
    "$KUBECTL" --context "$CONTEXT" get inferenceservices.serving.kserve.io,gateways.gateway.networking.k8s.io,httproutes.gateway.networking.k8s.io,grpcroutes.gateway.networking.k8s.io -A -o yaml || true
    "$HELM" --kube-context "$CONTEXT" history "$RELEASE" -n "$NAMESPACE" || true
  } >"$ARTIFACTS/resources.txt" 2>&1
  "$KUBECTL" --context "$CONTEXT" get events -A --sort-by=.lastTimestamp >"$ARTIFACTS/events.txt" 2>&1 || true
  local ns pod
  for ns in "$NAMESPACE" kserve envoy-gateway-system cert-manager; do
    for pod in $("$KUBECTL" --context "$CONTEXT" -n "$ns" get pods -o name 2>/dev/null); do
      "$KUBECTL" --context "$CONTEXT" -n "$ns" logs "$pod" --all-containers --prefix --tail=400 \
        >"$ARTIFACTS/logs-$ns-${pod#pod/}.txt" 2>&1 || true
      "$KUBECTL" --context "$CONTEXT" -n "$ns" logs "$pod" --all-containers --prefix --previous --tail=200 \
        >>"$ARTIFACTS/logs-$ns-${pod#pod/}.txt" 2>/dev/null || true
    done
  done
  # The tail of the release's logs and events straight into the CI log as well.
  tail -n 60 "$ARTIFACTS/events.txt" >&2 || true
  for f in "$ARTIFACTS"/logs-"$NAMESPACE"-*.txt; do
    [[ -e "$f" ]] || continue
    printf '\n===== %s\n' "$(basename "$f")" >&2
    tail -n 40 "$f" >&2
  done
}

on_exit() {
  local rc=$?
  set +e
  if (( rc != 0 )) && [[ -n "$KUBECTL" ]] && "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    dump_diagnostics
  fi
  if [[ "$KEEP_CLUSTER" == 1 ]]; then
    say "KEEP_CLUSTER=1: cluster $CLUSTER_NAME left running (kubectl --context $CONTEXT ...)"
  elif [[ -n "$KIND" ]]; then
    say "deleting cluster $CLUSTER_NAME"
    "$KIND" delete cluster --name "$CLUSTER_NAME" >/dev/null 2>&1
  fi
  exit "$rc"
}

# ---- steps ---------------------------------------------------------------------------------
create_cluster() {
  if [[ "$REUSE_CLUSTER" == 1 ]] && "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    say "reusing cluster $CLUSTER_NAME"
    return 0
  fi
  say "creating kind cluster $CLUSTER_NAME ($KIND_NODE_IMAGE)"
  "$KIND" create cluster --name "$CLUSTER_NAME" --config manifests/kind-cluster.yaml \
    --image "$KIND_NODE_IMAGE" --wait 180s
}

install_prerequisites() {
  local k=("$KUBECTL" --context "$CONTEXT")
  say "cert-manager $CERT_MANAGER_VERSION"
  "${k[@]}" apply --server-side \
    -f "https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml"
  "${k[@]}" -n cert-manager wait deployment --all --for=condition=Available --timeout=300s

  say "Gateway API $GATEWAY_API_VERSION CRDs (standard channel)"
  "${k[@]}" apply --server-side \
    -f "https://github.com/kubernetes-sigs/gateway-api/releases/download/$GATEWAY_API_VERSION/standard-install.yaml"

  say "Envoy Gateway $ENVOY_GATEWAY_VERSION"
  # Its chart carries the Gateway API CRDs too; Helm skips the ones installed above.
  retry 3 "$HELM" --kube-context "$CONTEXT" upgrade --install eg oci://docker.io/envoyproxy/gateway-helm \
    --version "$ENVOY_GATEWAY_VERSION" --namespace envoy-gateway-system --create-namespace --wait --timeout 10m
  "${k[@]}" -n envoy-gateway-system wait deployment/envoy-gateway --for=condition=Available --timeout=300s

  say "KServe $KSERVE_VERSION (Standard mode, Gateway API)"
  retry 3 "$HELM" --kube-context "$CONTEXT" upgrade --install kserve-crd oci://ghcr.io/kserve/charts/kserve-crd \
    --version "$KSERVE_VERSION" --namespace kserve --create-namespace --wait --timeout 10m
  retry 3 "$HELM" --kube-context "$CONTEXT" upgrade --install kserve oci://ghcr.io/kserve/charts/kserve-resources \
    --version "$KSERVE_VERSION" --namespace kserve --wait --timeout 10m \
    --set kserve.controller.deploymentMode=Standard \
    --set kserve.controller.gateway.ingressGateway.enableGatewayApi=true \
    --set kserve.controller.gateway.ingressGateway.kserveGateway=kserve/kserve-ingress-gateway
  "${k[@]}" -n kserve wait deployment --all --for=condition=Available --timeout=300s

  say "Gateway kserve/kserve-ingress-gateway (Envoy, NodePort 30080 -> 127.0.0.1:8080)"
  retry 3 "${k[@]}" apply -f manifests/gateway.yaml
  "${k[@]}" -n kserve wait gateways.gateway.networking.k8s.io/kserve-ingress-gateway --for=condition=Programmed --timeout=300s
}

build_images() {
  if [[ "$SKIP_BUILD" == 1 ]]; then
    say "SKIP_BUILD=1: using existing credit-score-{serve,train}:$IMAGE_TAG"
  else
    say "building credit-score-serve and credit-score-train:$IMAGE_TAG"
    IMAGE_TAG="$IMAGE_TAG" bash scripts/docker-build.sh serve train
  fi
  say "loading the images into $CLUSTER_NAME"
  "$KIND" load docker-image --name "$CLUSTER_NAME" "credit-score-serve:$IMAGE_TAG" "credit-score-train:$IMAGE_TAG"
}

# wait_training: the release's training Job completes; fails at once when it fails.
wait_training() {
  local deadline=$((SECONDS + 1500)) state
  say "waiting for the training Job"
  while (( SECONDS < deadline )); do
    state="$("$KUBECTL" --context "$CONTEXT" -n "$NAMESPACE" get jobs \
      -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=training" \
      -o jsonpath='{range .items[*]}{range .status.conditions[*]}{.type}={.status} {end}{end}')"
    [[ "$state" == *"Complete=True"* ]] && return 0
    [[ "$state" == *"Failed=True"* ]] && die "the training Job failed"
    sleep 10
  done
  die "the training Job did not complete within 25 minutes"
}

install_release() {
  say "helm install $RELEASE (manifests/values-kind.yaml, images :$IMAGE_TAG)"
  "$HELM" --kube-context "$CONTEXT" upgrade --install "$RELEASE" charts/credit-score \
    --namespace "$NAMESPACE" --create-namespace --values "$VALUES" \
    --set "image.train.tag=$IMAGE_TAG" --set "image.serve.tag=$IMAGE_TAG" --timeout 20m
  wait_training
  say "waiting for the InferenceServices to be Ready"
  "$KUBECTL" --context "$CONTEXT" -n "$NAMESPACE" wait inferenceservices.serving.kserve.io \
    -l "app.kubernetes.io/instance=$RELEASE" --for=condition=Ready --timeout=900s
}

run_tests() {
  mkdir -p "$ARTIFACTS"
  say "pytest -m cluster"
  # shellcheck disable=SC2086  # PYTEST_ARGS is a word list on purpose
  E2E_REQUIRE_CLUSTER=1 E2E_RELEASE="$RELEASE" E2E_NAMESPACE="$NAMESPACE" E2E_VALUES="$VALUES" \
    E2E_IMAGE_TAG="$IMAGE_TAG" E2E_KUBECTL="$KUBECTL" E2E_HELM="$HELM" \
    "$PYTHON" -m pytest -m cluster tests/cluster -v -rs --junitxml="$ARTIFACTS/junit.xml" ${PYTEST_ARGS:-}
}

main() {
  preflight
  trap on_exit EXIT
  create_cluster
  "$KUBECTL" config use-context "$CONTEXT" >/dev/null
  if [[ "$REUSE_CLUSTER" == 1 ]] && "$KUBECTL" -n kserve get gateways.gateway.networking.k8s.io kserve-ingress-gateway >/dev/null 2>&1; then
    say "REUSE_CLUSTER=1: prerequisites already installed"
  else
    install_prerequisites
  fi
  build_images
  install_release
  run_tests
  say "passed"
}

main "$@"
