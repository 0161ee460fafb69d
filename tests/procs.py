"""Starting real servers (MLflow, our predictor) as subprocesses for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import httpx

VENV_BIN = Path(sys.executable).parent
MLFLOW_START_SECONDS = 240
"""`mlflow server` answers /health in about 11 s on 2 idle cores, and took 69 s to over 90 s with
the cores shared by four test runs: a slow start is no failure of what the tests check."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(
    url: str,
    timeout: float,
    proc: subprocess.Popen | None = None,
    expect: int = 200,
    *,
    died: Callable[[], str | None] | None = None,
    context: Callable[[], str] | None = None,
    interval: float = 0.1,
) -> float:
    """Poll `url` until it answers `expect`; returns seconds waited.

    Fails early when `proc` exited or `died()` says why the server is gone (a stopped
    container); `context()` (logs, states) goes into either failure message."""
    start = time.perf_counter()
    gone = died or (lambda: None if proc is None or proc.poll() is None else f"process exited with {proc.returncode}")
    extra = (lambda: "\n" + context()) if context else (lambda: "")
    while time.perf_counter() - start < timeout:
        reason = gone()
        if reason:
            raise RuntimeError(f"{reason} before {url} answered{extra()}")
        try:
            if httpx.get(url, timeout=max(1.0, interval)).status_code == expect:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    raise TimeoutError(f"{url} did not answer {expect} within {timeout} s{extra()}")


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a process started with start_new_session=True and everything it spawned."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass


def env_with_venv(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@dataclass
class MlflowServer:
    url: str
    port: int
    root: Path
    proc: subprocess.Popen

    def start(self) -> None:
        """(Re)start on the same port and store, e.g. after a simulated outage."""
        self.proc = _spawn_mlflow(self.root, self.port)
        wait_http(f"{self.url}/health", MLFLOW_START_SECONDS, self.proc)

    def stop(self) -> None:
        stop(self.proc)


def _spawn_mlflow(root: Path, port: int) -> subprocess.Popen:
    root.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(VENV_BIN / "mlflow"), "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"), "--serve-artifacts",
    ]
    log = (root / "server.log").open("ab")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env_with_venv())


@contextmanager
def mlflow_server(root: Path) -> Iterator[MlflowServer]:
    port = free_port()
    server = MlflowServer(url=f"http://127.0.0.1:{port}", port=port, root=root, proc=_spawn_mlflow(root, port))
    try:
        wait_http(f"{server.url}/health", MLFLOW_START_SECONDS, server.proc)
        yield server
    finally:
        server.stop()


@contextmanager
def s3_server(workdir: Path) -> Iterator[dict[str, str]]:
    """moto's S3-compatible server in its own process (MinIO is AGPL): yields the environment an
    S3 client (boto3, pyarrow) needs to reach it, as a pod would get it."""
    port = free_port()
    log = (workdir / "s3.log").open("w")
    proc = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        wait_http(f"{env['AWS_ENDPOINT_URL']}/moto-api/", 60, proc)
        yield env
    finally:
        stop(proc)
        log.close()


@dataclass
class Predictor:
    http: str
    grpc: str
    proc: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_predictor(model_uri: str, tracking_uri: str | None, workdir: Path, *extra: str, **env: str) -> Predictor:
    """Our server in a subprocess on free ports (not waiting for readiness)."""
    http_port, grpc_port = free_port(), free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"predictor-{http_port}.log"
    cmd = [sys.executable, "-m", "kserve_model", "--model-name", "credit-score", "--model-uri", model_uri,
           "--http-port", str(http_port), "--grpc-port", str(grpc_port), "--cache-dir", str(workdir / "cache"),
           "--audit-dir", str(workdir / "audit"), *extra]
    if tracking_uri:
        cmd += ["--tracking-uri", tracking_uri]
    proc = subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
                            env=env_with_venv(**env))
    return Predictor(http=f"http://127.0.0.1:{http_port}", grpc=f"127.0.0.1:{grpc_port}", proc=proc, log=log)


def v2_inputs(frame) -> list[dict]:
    """A pandas frame as v2 JSON inputs: BYTES for text columns, FP64 for numbers."""
    out = []
    for name in frame.columns:
        col = frame[name]
        if col.dtype == object:
            out.append({"name": name, "datatype": "BYTES", "shape": [len(col)], "data": col.tolist()})
        else:
            data = [None if v != v else float(v) for v in col.tolist()]
            out.append({"name": name, "datatype": "FP64", "shape": [len(col)], "data": data})
    return out
