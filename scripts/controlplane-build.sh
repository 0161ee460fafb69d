#!/usr/bin/env bash
# Build the control-plane binaries the `controlplane` pytest tier starts as host processes:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler  (tools/controlplane/kubernetes)
#   kwok                                                            (tools/controlplane/kwok)
#   manager (KServe's controller manager, cmd/manager)              (tools/controlplane/kserve)
#   trainer-controller-manager (Kubeflow Trainer), jobset           (tools/controlplane/trainer)
# from the Go module proxy by module name, through the small wrapper modules under
# tools/controlplane/ that pin the versions (replace directives as the upstream go.mod files have).
#
# Output: .tools/controlplane/bin/ (gitignored). Go's module and build caches are reused, so a
# rebuild after a cold one only links. The build is skipped when .tools/controlplane/STAMP equals
# the hash of the wrapper go.mod/go.sum files and this script, and every binary is present.
#
# Usage: scripts/controlplane-build.sh [--force]
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${REPO_ROOT}/tools/controlplane"
OUT="${CONTROLPLANE_DIR:-${REPO_ROOT}/.tools/controlplane}"
BIN="${OUT}/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok manager trainer-controller-manager jobset)

log() { printf 'controlplane-build: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not installed (needs Go >= 1.25)"

stamp() {
  (cd "${REPO_ROOT}" && sha256sum scripts/controlplane-build.sh tools/controlplane/*/go.mod tools/controlplane/*/go.sum) \
    | sha256sum | cut -d' ' -f1
}

current() {
  [[ -f "${OUT}/STAMP" && "$(cat "${OUT}/STAMP")" == "$(stamp)" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "${BIN}/${b}" ]] || return 1; done
}

if [[ "${1:-}" != "--force" ]] && current; then
  log "binaries in ${BIN} are current (stamp $(cut -c1-12 "${OUT}/STAMP"))"
  exit 0
fi

mkdir -p "${BIN}"
rm -f "${OUT}/STAMP"
export CGO_ENABLED=0 GOFLAGS="-mod=readonly"
# The Kubernetes release in the version package (as its own build does with hack/lib/version.sh):
# without it the API server reports v0.0.0-master and `helm install` refuses the chart's kubeVersion.
K8S_VERSION="$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "${SRC}/kubernetes/go.mod")"
[[ "${K8S_VERSION}" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "no k8s.io/kubernetes version in tools/controlplane/kubernetes/go.mod"
K8S_X="-X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=${BASH_REMATCH[1]}"
K8S_X+=" -X k8s.io/component-base/version.gitMinor=${BASH_REMATCH[2]} -X k8s.io/component-base/version.gitTreeState=clean"

# build MODULE_DIR LDFLAGS PACKAGE... : one `go build` per wrapper module, binaries into BIN
build() {
  local dir="$1" ldflags="-s -w $2"; shift 2
  local t0=$SECONDS
  log "building ${*} (module ${dir})"
  (cd "${SRC}/${dir}" && go build -trimpath -ldflags="${ldflags}" -o "${BIN}/" "$@") \
    || die "go build failed in tools/controlplane/${dir}"
  log "  ${dir}: $((SECONDS - t0)) s"
}

t_start=$SECONDS
build kubernetes "${K8S_X}" go.etcd.io/etcd/server/v3 k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
mv -f "${BIN}/server" "${BIN}/etcd"
build kwok "" sigs.k8s.io/kwok/cmd/kwok
build kserve "" github.com/kserve/kserve/cmd/manager
build trainer "" github.com/kubeflow/trainer/v2/cmd/trainer-controller-manager sigs.k8s.io/jobset

for b in "${BINARIES[@]}"; do [[ -x "${BIN}/${b}" ]] || die "${BIN}/${b} was not produced"; done
stamp > "${OUT}/STAMP"
log "built ${BINARIES[*]} in $((SECONDS - t_start)) s"
