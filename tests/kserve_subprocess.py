"""Running code that imports KServe's server modules in a fresh interpreter.

kserve.model_server loads KServe's v2 gRPC protos, which define the same symbols as
tritonclient's; both cannot live in one process, and the integration tests use tritonclient."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str, env: dict[str, str] | None = None, args: tuple[str, ...] = (),
               stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, input=stdin)


def serve_settings(argv: list[str], env: dict[str, str]) -> dict:
    """parse_settings(argv) under `env` (only these of the serving variables set), as JSON; or
    {"error": text} when validation fails."""
    code = ("import json, sys\nfrom pydantic import ValidationError\nfrom kserve_model.settings import parse_settings\n"
            "try:\n    print(parse_settings(json.loads(sys.argv[1])).model_dump_json())\n"
            "except ValidationError as e:\n    print(json.dumps({'error': str(e)}))\n")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(argv)], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])
