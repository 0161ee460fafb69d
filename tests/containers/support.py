"""Helpers of the container tier: the docker CLI, the project's scripts, waiting for
containers. Fixtures are in conftest.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import procs
from tests.conftest import REPO

SCRIPTS = REPO / "scripts"
STATE = REPO / ".docker"
TAG = "containers-test"
SERVE_IMAGE = f"credit-score-serve:{TAG}"
TRAIN_IMAGE = f"credit-score-train:{TAG}"
LOCAL_BASE = "credit-score-base:bookworm"
UID = 10001
# The package registries our machines reach serve torch as published (no +cpu local wheel),
# so the tier builds the lock's torch (the CUDA build); CONTAINER_TEST_TORCH_INDEX_URL=<a CPU
# wheel index> tests the CPU variant (Dockerfile.train's TORCH_INDEX_URL) where it resolves.
TORCH_INDEX_URL = os.environ.get("CONTAINER_TEST_TORCH_INDEX_URL", "")


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The docker CLI; a failure shows the command and its output."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def run_script(name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """scripts/<name>; its stderr (progress, docker build output) is kept on the result and
    copied to pytest's capture."""
    done = subprocess.run(["bash", str(SCRIPTS / name), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    sys.stderr.write(done.stderr)
    return done


def script_failed(done: subprocess.CompletedProcess[str], lines: int = 40) -> str:
    """A failure message that quotes the end of a script's stderr: CI reports keep a
    failure's first lines and the summary, and a long build log between them gets cut."""
    tail = "\n".join(done.stderr.rstrip().splitlines()[-lines:])
    return f"{done.args[1]} exited {done.returncode}; the last lines of its output:\n{tail}"


def inspect(image: str) -> dict:
    return json.loads(docker("image", "inspect", image).stdout)[0]


def host_port(container: str, port: int) -> int:
    out = docker("port", container, f"{port}/tcp").stdout.strip().splitlines()[0]
    return int(out.rsplit(":", 1)[1])


def logs(container: str) -> str:
    done = docker("logs", "--tail", "80", container, check=False)
    return (done.stdout + done.stderr)[-6000:]


def wait_http(url: str, timeout: float, container: str, expect: int = 200) -> float:
    """Poll `url` until it answers `expect`; fails early, with the logs, if `container` stopped."""
    def died() -> str | None:
        state = docker("inspect", "-f", "{{.State.Status}}", container, check=False).stdout.strip()
        return f"{container} {state}" if state in {"exited", "dead"} else None

    return procs.wait_http(url, timeout, expect=expect, died=died, context=lambda: logs(container), interval=0.5)
