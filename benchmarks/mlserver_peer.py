"""The MLServer peer: MLServer 1.7.1 + mlserver-mlflow serving a registered version of our model.

    python -m benchmarks.mlserver_peer --model-uri models:/credit-score@champion \
        --tracking-uri http://127.0.0.1:5000 --workdir /tmp/mlserver [--http-port 8090] [--grpc-port 8091]

This is how KServe serves an MLflow model (model format `mlflow`, its MLServer runtime): the
storage initializer downloads the version's files, MLServer loads them with the MLflow runtime.
Here our venv's MLflow client does the download (the storage initializer's part), this module
writes MLServer's settings.json and model-settings.json, and MLServer runs from its own venv
(scripts/mlserver-venv.sh: its pins clash with ours) with its defaults but for the ports and
`debug` (on, it writes an access-log line per request). Its default `parallel_workers: 1` is
kept: inference in one worker process beside the REST/gRPC front, as KServe runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MLSERVER_VENV = REPO / ".tools" / "mlserver-venv"
VENV_HINT = "run `bash scripts/mlserver-venv.sh` (or `make bench`, which runs it)"


@dataclass
class PeerFiles:
    folder: Path
    name: str
    version: str


def registered_version(model_uri: str, tracking_uri: str) -> tuple[str, str]:
    """models:/name@alias or models:/name/version -> (name, version)."""
    from mlflow import MlflowClient

    ref = model_uri.removeprefix("models:/")
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, str(MlflowClient(tracking_uri).get_model_version_by_alias(name, alias).version)
    name, _, version = ref.partition("/")
    if not version.isdigit():
        raise ValueError(f"{model_uri!r}: expected models:/name@alias or models:/name/version")
    return name, version


def prepare(model_uri: str, tracking_uri: str, workdir: Path, http_port: int, grpc_port: int,
            metrics_port: int) -> PeerFiles:
    """Download the registered version and write MLServer's two settings files beside it."""
    import mlflow

    name, version = registered_version(model_uri, tracking_uri)
    folder = workdir / "mlserver"
    model_dir = folder / name
    model_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    # one progress bar per file would fill the benchmark's output
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    artifact = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}",
                                                        dst_path=str(model_dir / "artifact")))
    (folder / "settings.json").write_text(json.dumps({
        "host": "127.0.0.1", "http_port": http_port, "grpc_port": grpc_port, "metrics_port": metrics_port,
        "debug": False,
    }, indent=2))
    # "uri" is read relative to this file; the signature gives the request codec (pandas)
    (model_dir / "model-settings.json").write_text(json.dumps({
        "name": name, "implementation": "mlserver_mlflow.MLflowRuntime",
        "parameters": {"uri": str(artifact), "version": version},
    }, indent=2))
    return PeerFiles(folder=folder, name=name, version=version)


def mlserver_bin(venv: Path | None = None) -> Path:
    venv = venv or MLSERVER_VENV
    exe = venv / "bin" / "mlserver"
    if not exe.exists():
        raise FileNotFoundError(f"MLServer's venv not found at {venv}: {VENV_HINT}")
    return exe


def start(files: PeerFiles, log: Path, venv: Path | None = None) -> subprocess.Popen:
    """`mlserver start` in its own session (stop it with tests.procs.stop: it has worker children)."""
    exe = mlserver_bin(venv)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # its own venv first on PATH: MLServer's workers re-run the interpreter it was started with
    env["PATH"] = f"{exe.parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.Popen([str(exe), "start", str(files.folder)], stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True, env=env, cwd=files.folder)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-uri", required=True)
    p.add_argument("--tracking-uri", required=True)
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--http-port", type=int, default=8090)
    p.add_argument("--grpc-port", type=int, default=8091)
    p.add_argument("--metrics-port", type=int, default=8092)
    p.add_argument("--venv", type=Path, default=None, help="MLServer's venv, default .tools/mlserver-venv")
    args = p.parse_args(argv)
    files = prepare(args.model_uri, args.tracking_uri, args.workdir, args.http_port, args.grpc_port, args.metrics_port)
    print(f"MLServer serving {files.name} version {files.version} from {files.folder}", file=sys.stderr)
    exe = mlserver_bin(args.venv)
    os.execv(str(exe), [str(exe), "start", str(files.folder)])


if __name__ == "__main__":
    sys.exit(main())
