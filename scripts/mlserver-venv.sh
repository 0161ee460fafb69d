#!/usr/bin/env bash
# The MLServer peer's own venv (.tools/mlserver-venv) from peers/mlserver-requirements.txt: its
# pins clash with ours, so it cannot live in .venv. Skipped when the venv was built from the
# same requirements file (a sha256 stamp). Prints the venv's path as its last line.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${MLSERVER_VENV:-$ROOT/.tools/mlserver-venv}"
REQ="$ROOT/peers/mlserver-requirements.txt"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ -x "$VENV/bin/mlserver" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  echo "$VENV"
  exit 0
fi
# the requirements were resolved on 3.11 (the project's Python)
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
echo "mlserver-venv: building $VENV with $("$PY" --version 2>&1) (a few minutes the first time)" >&2
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet -r "$REQ" >&2
echo "$want" > "$STAMP"
echo "$VENV"
