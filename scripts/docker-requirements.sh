#!/bin/sh
# Print the requirement lines of pyproject.toml (base dependencies plus the named
# extras), one per line, for `pip install -r` before the source is copied (image layer
# cache) and for scripts/docker-wheelhouse.sh. Runs in the image builds too: POSIX sh
# and the standard library of Python >= 3.11 (tomllib) only.
#
# Usage: scripts/docker-requirements.sh PYPROJECT [EXTRA...]
#   The pseudo-extra `build-system` adds [build-system].requires (what `pip install .`
#   needs to build the project's own wheel).
#
# TORCH_VARIANT (default cpu): an exact pin torch==X becomes torch==X+cpu, so that no
# resolver ever picks a CUDA build; TORCH_VARIANT= keeps the pin as written.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 PYPROJECT [EXTRA...]" >&2; exit 2; }
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
TORCH_VARIANT="${TORCH_VARIANT-cpu}" exec "$PYTHON" - "$@" <<'PY'
import os
import re
import sys
import tomllib

path, extras = sys.argv[1], sys.argv[2:]
with open(path, "rb") as f:
    pyproject = tomllib.load(f)
project = pyproject["project"]
optional = dict(project.get("optional-dependencies", {}))
optional["build-system"] = pyproject.get("build-system", {}).get("requires", [])
unknown = [e for e in extras if e not in optional]
if unknown:
    sys.exit(f"{path}: no optional-dependencies named {', '.join(unknown)} (have: {', '.join(optional)})")

own_name = re.sub(r"[-_.]+", "-", project["name"]).lower()
variant = os.environ.get("TORCH_VARIANT", "")
lines = []
for req in project.get("dependencies", []) + [r for e in extras for r in optional[e]]:
    name = re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req).group(1)).lower()
    if name == own_name:  # an extra that pulls in another extra of the project itself
        continue
    pin = re.fullmatch(r"\s*torch\s*==\s*([0-9][0-9A-Za-z.]*)\s*(;.*)?", req)
    if pin and variant:
        req = f"torch=={pin.group(1)}+{variant}" + (pin.group(2) or "")
    if req not in lines:
        lines.append(req)
print("\n".join(lines))
PY
