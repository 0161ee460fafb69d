"""Serving settings: every option from a flag or the environment variable of the same name.

pydantic-settings reads both (a flag wins over the environment); the flags sit on a parser
whose parent is KServe's own (`kserve.model_server.parser`, as KServe's own servers do), so
`--help` lists both and KServe's flags reach ModelServer unchanged. The environment names are
what the Helm chart sets (`MODEL_URI`, `MLFLOW_TRACKING_URI`, ...).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, CliSettingsSource, SettingsConfigDict


DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
"""16 MiB: about 60,000 rows of the German model's v2 JSON (280 bytes a row, measured), so below
MAX_BATCH_ROWS' 100,000 the size limit is the one a large request meets first."""


def _env(*names: str) -> AliasChoices:
    """Accepted names: the field's own, then other environment spellings."""
    return AliasChoices(*names)


class ServeSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", frozen=True, cli_kebab_case=True, populate_by_name=True)

    model_name: str = Field(default="credit-score", min_length=1, description="name served under /v2/models/<name>")
    model_uri: str = Field(min_length=1, description="models:/<name>@<alias>, models:/<name>/<version>, or a local artifact folder")
    tracking_uri: str | None = Field(default=None, validation_alias=_env("tracking_uri", "mlflow_tracking_uri"),
                                     description="MLflow tracking server (env MLFLOW_TRACKING_URI)")
    http_port: int = Field(default=8080, ge=1, le=65535)
    grpc_port: int = Field(default=8081, ge=1, le=65535)
    load_deadline_seconds: float = Field(default=300.0, gt=0,
                                         description="how long to retry MLflow at start; then up, not ready, the error logged")
    retry_initial_seconds: float = Field(default=0.5, gt=0, description="first wait between MLflow attempts (doubles)")
    retry_max_seconds: float = Field(default=15.0, gt=0, description="longest wait between MLflow attempts")
    cache_dir: Path = Field(default=Path("/tmp/model-cache"), validation_alias=_env("cache_dir", "model_cache_dir"),
                            description="download cache (env MODEL_CACHE_DIR)")
    max_batch_rows: int = Field(default=100_000, ge=1, description="larger requests get a 400: they belong in a batch job")
    max_request_bytes: int = Field(default=DEFAULT_MAX_REQUEST_BYTES, ge=1024, le=1024**3,
                                   description="larger REST bodies get a 413 before they are parsed (by Content-Length "
                                               "or while they stream in); also gRPC's maximum receive message size")
    threads: int = Field(default=1, ge=1, validation_alias=_env("threads", "inference_threads"),
                         description="onnxruntime intra-op threads per process (env INFERENCE_THREADS)")
    log_config_file: str | None = None
    decision_log_size: int = Field(default=10_000, ge=0,
                                   description="recent decisions kept per process by request id, for shadow comparison; 0 = off")
    audit: bool = Field(default=True, description="commit a record of every scored row to disk before answering "
                                                  "(kserve_model/audit_log.py); off only where another system keeps it")
    audit_dir: Path = Field(default=Path("/tmp/credit-score-audit"),
                            description="where the audit files go (one SQLite file per process and UTC day); "
                                        "in a container mount a volume here (the chart mounts a PVC)")
    audit_inputs: bool = Field(default=False, description="also store each row's inputs as JSON (default: their SHA-256 only)")
    audit_retention_days: int = Field(default=761, ge=0, description="delete audit files older than this "
                                      "(761: Regulation B's 25 months, 12 CFR 1002.12(b)); 0 keeps them all")
    audit_max_file_mb: float = Field(default=0.0, ge=0, description="quota of one audit file; when reached the model "
                                     "turns not-ready (as on a full disk) rather than answer unrecorded; 0: none")
    audit_group_commit_ms: float = Field(default=2.0, ge=0, le=100, description="under concurrency (the last commit "
                                         "held several requests) wait this long for more to share the next; a lone "
                                         "request never waits; 0: commit as soon as the event loop is free")
    drift_window_seconds: float = Field(default=3600.0, gt=0, description="window of the live input and score PSI "
                                        "against the training reference (credit_score_input_psi gauges)")
    fault_delay_ms: float = Field(default=0.0, ge=0, description="TESTING AID, off by default: latency added to every request")
    fault_error_rate: float = Field(default=0.0, ge=0, le=1,
                                    description="TESTING AID, off by default: share of requests answered HTTP 500")


_UNSET = object()


def build_parser() -> tuple[argparse.ArgumentParser, CliSettingsSource]:
    # imported here: kserve.model_server loads KServe's gRPC protos, which clash with another
    # v2 client's (tritonclient) in one process; only the server process needs them
    from kserve.model_server import parser as kserve_parser

    # "resolve": where both define a flag (--model_name, --http_port, ...), ours is the one parsed;
    # KServe has read its own at import, so nothing is lost.
    parser = argparse.ArgumentParser(prog="python -m kserve_model", parents=[kserve_parser], conflict_handler="resolve",
                                     description="Serve a registered credit model on KServe v2 (REST + gRPC).")
    return parser, CliSettingsSource(ServeSettings, root_parser=parser)


def parse_settings(argv: list[str] | None = None) -> ServeSettings:
    parser, source = build_parser()
    # KServe's parser fills its defaults (http_port, max_threads, ...) into the namespace; only
    # values given on the command line may override the environment.
    namespace = argparse.Namespace(**{a.dest: _UNSET for a in parser._actions if a.dest != "help"})
    parsed, _ = parser.parse_known_args(argv, namespace)
    given = {k: v for k, v in vars(parsed).items() if v is not _UNSET}
    _refuse_workers(given.pop("workers", None), os.environ.get("WORKERS"))
    return ServeSettings(_cli_settings_source=source(parsed_args=given))


class SettingsError(ValueError):
    """A setting that validation alone cannot explain (a removed option)."""


SCALE_BY_REPLICAS = ("scale by replicas (the chart's serving.minReplicas / serving.maxReplicas autoscaling), "
                     "one server process per pod")


def _refuse_workers(flag: object, env: str | None) -> None:
    """`--workers`/`WORKERS` > 1 is refused, not ignored. Several REST processes measured only
    1.17-1.52x one on two cores, and each kept its own Prometheus series and decision log (a
    scrape saw one process; KServe 0.21 has no multiprocess collector), so the option went.
    1 is accepted: it is what the option meant by default."""
    for name, value in (("--workers", flag), ("WORKERS", env)):
        if value is not None and str(value).strip() not in ("", "1"):
            raise SettingsError(f"{name}={value}: several server processes per pod are not supported; {SCALE_BY_REPLICAS}")
