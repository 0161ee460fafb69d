#!/bin/sh
# Slim a virtual environment inside an image build (builder stage), before the runtime
# stage copies it. POSIX sh and the venv's Python only.
#
# Usage: scripts/docker-slim-venv.sh tests VENV
#          Remove the test suites packages ship (directories named tests/test below a
#          top-level package: pandas/tests, numpy/*/tests, sklearn/*/tests, ...).
#        scripts/docker-slim-venv.sh bytecode VENV
#          Compile every module of the venv, on all cores (pip compiles one file at a time).
#        scripts/docker-slim-venv.sh bytecode VENV MODULE...
#          Bytecode only for the modules that importing MODULEs loads (an entry `pkg.*`
#          also imports the submodules of pkg that import; the MODULEs themselves must);
#          every other .pyc is removed. Such a module, if imported later, compiles in
#          memory (the images run with PYTHONDONTWRITEBYTECODE and a read-only root).
#
# Bytecode is written as unchecked-hash .pyc (PEP 552): valid whatever the file times
# after COPY --from, never re-validated against the sources at import.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 tests|bytecode VENV [MODULE...]" >&2; exit 2; }
what="$1"; venv="$2"; shift 2
python="$venv/bin/python"
site="$("$python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
before="$(du -sm "$venv" | cut -f1)"

case "$what" in
  tests)
    find "$site" -mindepth 2 -type d \( -name tests -o -name test \) -prune -exec rm -rf {} +
    ;;
  bytecode)
    if [ $# -eq 0 ]; then
      # Like pip, tolerate files that are not valid Python 3.11 (templates, fixtures).
      "$python" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$site" >/dev/null || true
    else
      find "$venv" -type d -name __pycache__ -prune -exec rm -rf {} +
      PYTHONDONTWRITEBYTECODE=1 "$python" - "$site" "$@" <<'PY'
import importlib
import os
import pkgutil
import py_compile
import sys

site, wanted = sys.argv[1], sys.argv[2:]
sys.dont_write_bytecode = True
for name in wanted:
    walk = name.endswith(".*")
    module = importlib.import_module(name[:-2] if walk else name)  # must import
    if walk:
        for info in pkgutil.walk_packages(module.__path__, module.__name__ + ".", onerror=lambda _: None):
            if info.name.rsplit(".", 1)[-1] == "__main__":
                continue
            try:
                importlib.import_module(info.name)
            except Exception as e:  # an optional backend (gunicorn workers, boto3 stores, ...)
                print(f"docker-slim-venv: skipped {info.name}: {type(e).__name__}: {e}", file=sys.stderr)
files = {
    f for m in list(sys.modules.values())
    if (f := getattr(m, "__file__", None)) and f.endswith(".py") and f.startswith(site + os.sep)
}
for f in sorted(files):
    py_compile.compile(f, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
print(f"docker-slim-venv: bytecode for {len(files)} imported modules", file=sys.stderr)
PY
    fi
    ;;
  *)
    echo "usage: $0 tests|bytecode VENV [MODULE...]" >&2; exit 2 ;;
esac
echo "docker-slim-venv: $what: $venv ${before} MB -> $(du -sm "$venv" | cut -f1) MB" >&2
