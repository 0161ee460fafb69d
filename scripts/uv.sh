#!/usr/bin/env bash
# Install the project's uv (the version [tool.uv] required-version of pyproject.toml names)
# into .uv/ and print its path. The Makefile, .ci/run and scripts/docker-wheelhouse.sh share
# it, so every environment is resolved and installed by the same uv: another uv may read or
# write uv.lock differently. uv comes as a PyPI wheel (the standalone installer downloads
# from GitHub, which these machines do not reach); a second run is a version check.
#
# Usage: scripts/uv.sh            (prints .uv/bin/uv)
# Environment: PYTHON (a Python >= 3.8 with pip, only for installing uv; default python3)
#              UV_HOME (default: .uv in the repository)
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="${UV_HOME:-$REPO_ROOT/.uv}"
version="$(sed -n 's/^required-version *= *"==\([0-9.]*\)"/\1/p' "$REPO_ROOT/pyproject.toml" | head -n1)"
[[ -n "$version" ]] || { echo "uv.sh: no required-version = \"==X\" in pyproject.toml" >&2; exit 2; }
uv="$home/bin/uv"
if [[ -x "$uv" ]] && [[ "$("$uv" --version 2>/dev/null)" == "uv $version"* ]]; then
  echo "$uv"
  exit 0
fi
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
rm -rf "${home:?}/pkg" "${home:?}/bin"
# --target: a folder of its own, so neither the system Python nor .venv changes.
PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
  --target "$home/pkg" "uv==$version" >&2
mkdir -p "$home/bin"
ln -sf ../pkg/bin/uv "$home/bin/uv"
"$uv" --version >&2
echo "$uv"
