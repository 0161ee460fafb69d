"""Serving benchmark: our predictor vs the protocol ceiling vs MLServer vs `mlflow models serve`, one run.

    python -m benchmarks.serving [--requests 1000] [--wrk-seconds 10] [--connections 8] [--tracking-uri URL]
                                 [--set SECTION.FIELD=VALUE ...]

Starts a local MLflow server, trains and registers config 000 (`--set` overrides a field: what
another network costs to serve) or takes the champion of a running MLflow (`--tracking-uri`), then starts (one at a time, so
they do not compete for the 2 cores, each as one server process) our predictor on the registered
version (with its audit record on, the default, and off), an echo `kserve.Model` (the ceiling:
same server, no work), MLServer 1.7.1 with its MLflow runtime on the same version (how KServe
serves MLflow models; benchmarks/mlserver_peer.py, its own venv) and `mlflow models serve` of it.
Measures sequential REST and gRPC latency, wrk throughput, one 1,000-row and one 10,000-row
request and start-to-ready time. Prints a table, then one JSON line.

Needs wrk and MLServer's venv (`make bench` installs both: scripts/install-wrk.sh,
scripts/mlserver-venv.sh); without them it stops before starting anything, saying how to get them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import grpc
import httpx
import numpy as np
import pandas as pd
# tritonclient's v2 protos, not KServe's: both define package `inference` in protobuf's one default
# pool, so a process (pytest collecting this module) that loads KServe's cannot import tritonclient.grpc
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from benchmarks import mlserver_peer
from benchmarks.wrk import WrkMissing, find_wrk, post_script, run_wrk
from tests.conftest import NOT_INPUTS
from tests.procs import env_with_venv, free_port, stop, wait_http

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "models-configs" / "model_config_000.yaml"
QUIET_LOG = REPO / "config" / "logging-quiet.yaml"
DATA = REPO / "training_job" / "datasets" / "germancredit.csv"
MODEL = "credit-score"


def applicants(n: int) -> pd.DataFrame:
    frame = pd.read_csv(DATA).drop(columns=NOT_INPUTS)
    return pd.concat([frame] * (n // len(frame) + 1), ignore_index=True).head(n)


def v2_inputs(frame: pd.DataFrame) -> list[dict]:
    """v2 JSON inputs typed as the registered model's signature: INT64 for integer columns (MLServer's
    MLflow runtime enforces the signature and refuses FP64 there), FP64 for floats, BYTES for text.
    Every v2 server gets the same bodies."""
    out = []
    for name in frame.columns:
        col = frame[name]
        if col.dtype == object:
            out.append({"name": name, "datatype": "BYTES", "shape": [len(col)], "data": col.tolist()})
        elif pd.api.types.is_integer_dtype(col):
            out.append({"name": name, "datatype": "INT64", "shape": [len(col)], "data": col.tolist()})
        else:
            out.append({"name": name, "datatype": "FP64", "shape": [len(col)],
                        "data": [None if v != v else float(v) for v in col.tolist()]})
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def sequential(call: Callable[[], None], n: int, warmup: int = 50) -> tuple[float, float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return percentiles(times)


def rest_caller(client: httpx.Client, url: str, body: bytes) -> Callable[[], None]:
    def call() -> None:
        r = client.post(url, content=body, headers={"content-type": "application/json"})
        if r.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {r.status_code} {r.text[:300]}")
    return call


def grpc_request(model: str, frame: pd.DataFrame) -> pb.ModelInferRequest:
    req = pb.ModelInferRequest(model_name=model)
    for name in frame.columns:
        col = frame[name]
        t = req.inputs.add(name=name, shape=[len(col)])
        if col.dtype == object:
            t.datatype = "BYTES"
            t.contents.bytes_contents.extend(v.encode() for v in col)
        elif pd.api.types.is_integer_dtype(col):
            t.datatype = "INT64"
            t.contents.int64_contents.extend(int(v) for v in col)
        else:
            t.datatype = "FP64"
            t.contents.fp64_contents.extend(float(v) for v in col)
    return req


def grpc_caller(addr: str, request: pb.ModelInferRequest) -> tuple[Callable[[], None], grpc.Channel]:
    channel = grpc.insecure_channel(addr)
    stub = pb_grpc.GRPCInferenceServiceStub(channel)
    return (lambda: stub.ModelInfer(request, timeout=10)), channel


def wrk_rps(url: str, body: bytes, seconds: int, connections: int, workdir: Path) -> float:
    result = run_wrk(url, post_script(workdir, body), seconds, connections)
    if result.non_2xx or result.socket_errors:
        raise RuntimeError(f"wrk saw {result.non_2xx} error responses and {result.socket_errors} socket errors "
                           f"from {url}")
    return result.rps


def timed(call: Callable[[], None], repeats: int = 5) -> float:
    call()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def start(cmd: list[str], log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
                            env=env_with_venv(**env), cwd=REPO)


def measure_v2(proc: subprocess.Popen, started: float, http: int, grpc_port: int, model: str,
               work: Path, args: argparse.Namespace) -> dict:
    """The same measurements for any v2 server: ours, the echo ceiling and MLServer."""
    try:
        wait_http(f"http://127.0.0.1:{http}/v2/models/{model}/ready", 300, proc)
        ready_s = time.perf_counter() - started
        url = f"http://127.0.0.1:{http}/v2/models/{model}/infer"
        # identical request bodies: the echo decodes them as fully and returns the first input
        one = json.dumps({"inputs": v2_inputs(applicants(1))}).encode()
        k1 = json.dumps({"inputs": v2_inputs(applicants(1_000))}).encode()
        big = json.dumps({"inputs": v2_inputs(applicants(10_000))}).encode()
        with httpx.Client(timeout=120) as client:
            rest = sequential(rest_caller(client, url, one), args.requests)
            batch1k = timed(rest_caller(client, url, k1))
            batch = timed(rest_caller(client, url, big))
        call, channel = grpc_caller(f"127.0.0.1:{grpc_port}", grpc_request(model, applicants(1)))
        grpc_lat = sequential(call, args.requests)
        channel.close()
        rps = wrk_rps(url, one, args.wrk_seconds, args.connections, work)
        return {"rest_p50_ms": rest[0], "rest_p99_ms": rest[1], "grpc_p50_ms": grpc_lat[0], "grpc_p99_ms": grpc_lat[1],
                "wrk_rps": rps, "batch1k_ms": batch1k, "batch10k_ms": batch, "ready_s": ready_s}
    finally:
        stop(proc)


def start_ours(tracking: str, work: Path, audit: bool = True) -> tuple[subprocess.Popen, int, int]:
    """Our predictor on the champion, one process, request logging off: (process, HTTP port, gRPC port)."""
    http, grpc_port = free_port(), free_port()
    proc = start([sys.executable, "-m", "kserve_model", "--model-name", MODEL, "--model-uri", f"models:/{MODEL}@champion",
                  "--tracking-uri", tracking, "--http-port", str(http), "--grpc-port", str(grpc_port),
                  "--cache-dir", str(work / "cache-ours"),
                  "--audit", str(audit).lower(), "--audit-dir", str(work / "audit"),
                  "--log-config-file", str(QUIET_LOG)], work / "ours.log")
    return proc, http, grpc_port


def bench_ours(tracking: str, work: Path, args: argparse.Namespace, audit: bool = True) -> dict:
    started = time.perf_counter()
    proc, http, grpc_port = start_ours(tracking, work, audit)
    return measure_v2(proc, started, http, grpc_port, MODEL, work, args)


def bench_ceiling(work: Path, args: argparse.Namespace) -> dict:
    http, grpc_port = free_port(), free_port()
    started = time.perf_counter()
    proc = start([sys.executable, "-m", "benchmarks.echo_model", "--http_port", str(http), "--grpc_port", str(grpc_port),
                  "--log_config_file", str(QUIET_LOG)], work / "ceiling.log")
    return measure_v2(proc, started, http, grpc_port, "echo", work, args)


def bench_mlserver(tracking: str, work: Path, args: argparse.Namespace) -> dict:
    http, grpc_port = free_port(), free_port()
    files = mlserver_peer.prepare(f"models:/{MODEL}@champion", tracking, work, http, grpc_port, free_port())
    # from here on, like ours from its start: the download is the storage initializer's part
    started = time.perf_counter()
    proc = mlserver_peer.start(files, work / "mlserver.log")
    return measure_v2(proc, started, http, grpc_port, files.name, work, args)


def bench_mlflow(tracking: str, work: Path, args: argparse.Namespace) -> dict:
    port = free_port()
    t0 = time.perf_counter()
    proc = start([str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", f"models:/{MODEL}@champion",
                  "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
                 work / "mlflow-serve.log", MLFLOW_TRACKING_URI=tracking, UVICORN_ACCESS_LOG="false")
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", 180, proc)
        ready_s = time.perf_counter() - t0
        url = f"http://127.0.0.1:{port}/invocations"

        def body(frame: pd.DataFrame) -> bytes:
            return json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}).encode()

        one, k1, big = body(applicants(1)), body(applicants(1_000)), body(applicants(10_000))
        with httpx.Client(timeout=120) as client:
            rest = sequential(rest_caller(client, url, one), args.requests)
            batch1k = timed(rest_caller(client, url, k1))
            batch = timed(rest_caller(client, url, big))
        rps = wrk_rps(url, one, args.wrk_seconds, args.connections, work)
        return {"rest_p50_ms": rest[0], "rest_p99_ms": rest[1], "grpc_p50_ms": None, "grpc_p99_ms": None,
                "wrk_rps": rps, "batch1k_ms": batch1k, "batch10k_ms": batch, "ready_s": ready_s}
    finally:
        stop(proc)


def fmt(v: float | None, unit: str = "") -> str:
    return "-" if v is None else f"{v:,.2f}{unit}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


@contextmanager
def mlflow_registry(root: Path, timeout: float = 600) -> Iterator[str]:
    """`mlflow server` (SQLite, proxied artifacts, one worker) on a free port: its URL. It takes
    ~11 s to answer on 2 idle cores but minutes on busy ones, hence the long wait."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = start([str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
                  "--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                  "--artifacts-destination", str(root / "artifacts"), "--serve-artifacts"], root / "server.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout, proc, interval=0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)  # its job-runner child too: the whole session


@contextmanager
def registered_model(work: Path, overrides: list[str] | tuple[str, ...] = ()) -> Iterator[str]:
    """A local MLflow server with config 000 trained and registered (alias champion): its URL.
    `overrides` (SECTION.FIELD=VALUE) go to the training job: a cheaper model for smoke runs."""
    with mlflow_registry(work / "mlflow") as url:
        print(f"MLflow on {url}; training config 000 ...", file=sys.stderr)
        done = subprocess.run([sys.executable, "-m", "training_job", "--config", str(CONFIG), "--tracking-uri", url,
                               "--log-level", "WARNING", *[a for o in overrides for a in ("--set", o)]],
                              capture_output=True, text=True, cwd=REPO)
        if done.returncode != 0:
            raise RuntimeError(f"training config 000 failed:\n{done.stderr[-3000:]}")
        yield url


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--wrk-seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--tracking-uri", default=None,
                   help=f"a running MLflow with {MODEL}@champion registered: no server of our own, no training")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override a field of config 000 before training, e.g. --set optimisation.seeds=3 (repeatable)")
    args = p.parse_args(argv)
    if args.tracking_uri and args.overrides:
        p.error("--set changes the model trained here; with --tracking-uri nothing is trained")
    try:
        find_wrk()
        mlserver_peer.mlserver_bin()
    except (WrkMissing, FileNotFoundError) as e:
        print(f"benchmarks.serving: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp, (
            nullcontext(args.tracking_uri) if args.tracking_uri else registered_model(Path(tmp), args.overrides)) as tracking:
        work = Path(tmp)
        results = {}
        for name, run in (("ours", lambda: bench_ours(tracking, work, args)),
                          ("no_audit", lambda: bench_ours(tracking, work, args, audit=False)),
                          ("ceiling", lambda: bench_ceiling(work, args)),
                          ("mlserver", lambda: bench_mlserver(tracking, work, args)),
                          ("mlflow", lambda: bench_mlflow(tracking, work, args))):
            print(f"benchmarking {name} ...", file=sys.stderr)
            results[name] = run()
    ours, ceiling, mls, mlf, off = (results[k] for k in ("ours", "ceiling", "mlserver", "mlflow", "no_audit"))
    ratios = {
        "rps_audit_vs_off": ratio(ours["wrk_rps"], off["wrk_rps"]),
        "rest_p99_audit_minus_off_ms": ours["rest_p99_ms"] - off["rest_p99_ms"],
        "rps_vs_ceiling": ratio(ours["wrk_rps"], ceiling["wrk_rps"]),
        "rps_vs_mlserver": ratio(ours["wrk_rps"], mls["wrk_rps"]),
        "rest_p50_vs_mlserver": ratio(ours["rest_p50_ms"], mls["rest_p50_ms"]),
        "rest_p99_vs_mlserver": ratio(ours["rest_p99_ms"], mls["rest_p99_ms"]),
        "batch1k_vs_mlserver": ratio(ours["batch1k_ms"], mls["batch1k_ms"]),
        "rps_vs_mlflow": ratio(ours["wrk_rps"], mlf["wrk_rps"]),
    }
    cols = [("rest_p50_ms", " ms"), ("rest_p99_ms", " ms"), ("grpc_p50_ms", " ms"), ("grpc_p99_ms", " ms"),
            ("wrk_rps", ""), ("batch1k_ms", " ms"), ("batch10k_ms", " ms"), ("ready_s", " s")]
    print(f"{'':10}" + "".join(f"{c:>15}" for c, _ in cols))
    for name, r in results.items():
        print(f"{name:10}" + "".join(f"{fmt(r[c], u):>15}" for c, u in cols))
    print(f"throughput: ours/ceiling {fmt(ratios['rps_vs_ceiling'])}, ours/mlserver {fmt(ratios['rps_vs_mlserver'])}, "
          f"ours/mlflow {fmt(ratios['rps_vs_mlflow'])} (goals >= 0.8, >= 1 and >= 4); every output computed, "
          f"reason codes included")
    print(f"latency ours/mlserver: REST p50 {fmt(ratios['rest_p50_vs_mlserver'])}, p99 "
          f"{fmt(ratios['rest_p99_vs_mlserver'])}, 1,000 rows {fmt(ratios['batch1k_vs_mlserver'])} (goal <= 1)")
    print(f"auditing: throughput on/off {fmt(ratios['rps_audit_vs_off'])} (goal >= 0.9), REST p99 on minus off "
          f"{fmt(ratios['rest_p99_audit_minus_off_ms'], ' ms')} (goal <= +1 ms); every row committed before its answer")
    print(json.dumps({**results, "ratios": ratios}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
