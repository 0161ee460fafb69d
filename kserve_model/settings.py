"""Serving settings: every option from the command line or an environment variable.

The environment names are what the Helm chart sets (`MODEL_URI`, `MLFLOW_TRACKING_URI`, ...).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str = Field(default="credit-score", min_length=1)
    """Name the model is served under (/v2/models/<name>)."""
    model_uri: str = Field(min_length=1)
    """models:/<name>@<alias>, models:/<name>/<version>, or a local folder holding an artifact."""
    tracking_uri: str | None = None
    http_port: int = Field(default=8080, ge=1, le=65535)
    grpc_port: int = Field(default=8081, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    """REST worker processes (gRPC stays in the parent). One event loop saturates one core."""
    load_deadline_seconds: float = Field(default=300.0, gt=0)
    """How long to keep retrying MLflow at start; then the server stays up, not ready, with the error logged."""
    retry_initial_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=15.0, gt=0)
    cache_dir: Path = Path("/tmp/model-cache")
    max_batch_rows: int = Field(default=100_000, ge=1)
    """Larger requests get a 400: they belong in a batch job, not an online call."""
    threads: int = Field(default=1, ge=1)
    """onnxruntime intra-op threads per process."""
    log_config_file: str | None = None
    decision_log_size: int = Field(default=10_000, ge=0)
    """Rows of recent decisions kept per process, keyed by request id, for shadow comparison
    (`GET /v2/models/<name>/decisions`); 0 turns the log off. See kserve_model/metrics.py."""
    fault_delay_ms: float = Field(default=0.0, ge=0)
    """TESTING AID, off by default: extra latency added to every inference request."""
    fault_error_rate: float = Field(default=0.0, ge=0, le=1)
    """TESTING AID, off by default: share of inference requests answered HTTP 500 (counted as
    outcome=error), to prove that a rollout analysis rolls a faulty canary back."""


ENV = {
    "model_name": "MODEL_NAME",
    "model_uri": "MODEL_URI",
    "tracking_uri": "MLFLOW_TRACKING_URI",
    "http_port": "HTTP_PORT",
    "grpc_port": "GRPC_PORT",
    "workers": "WORKERS",
    "load_deadline_seconds": "LOAD_DEADLINE_SECONDS",
    "cache_dir": "MODEL_CACHE_DIR",
    "max_batch_rows": "MAX_BATCH_ROWS",
    "threads": "INFERENCE_THREADS",
    "log_config_file": "LOG_CONFIG_FILE",
    "decision_log_size": "DECISION_LOG_SIZE",
    "fault_delay_ms": "FAULT_DELAY_MS",
    "fault_error_rate": "FAULT_ERROR_RATE",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m kserve_model", description="Serve a registered credit model on KServe v2 (REST + gRPC).")
    for field, env in ENV.items():
        flag = "--" + field.replace("_", "-")
        alias = ["--" + field] if field in {"http_port", "grpc_port"} else []  # KServe's spelling too
        p.add_argument(flag, *alias, dest=field, default=os.environ.get(env), help=f"(env {env})")
    return p


def parse_settings(argv: list[str] | None = None) -> tuple[ServeSettings, list[str]]:
    """Our settings, and the arguments left for KServe's own parser."""
    ns, rest = build_parser().parse_known_args(argv)
    values = {k: v for k, v in vars(ns).items() if v is not None}
    return ServeSettings.model_validate(values), rest
