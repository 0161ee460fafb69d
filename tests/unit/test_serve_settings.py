"""Serving settings: each field from its flag or its environment variable, the flag winning
(parsed in a fresh interpreter: tests/kserve_subprocess.py says why)."""

from __future__ import annotations

import pytest

import os
import subprocess
import sys

from kserve_model.settings import ServeSettings
from tests.kserve_subprocess import REPO, serve_settings

# each test starts KServe's server modules in a fresh interpreter (seconds apiece)
pytestmark = pytest.mark.slow

ENV_NAMES = {"tracking_uri": "MLFLOW_TRACKING_URI", "cache_dir": "MODEL_CACHE_DIR", "threads": "INFERENCE_THREADS"}
VALUES = {"model_name": "m", "model_uri": "models:/m/3", "tracking_uri": "http://mlflow:5000", "http_port": "9001",
          "grpc_port": "9002", "load_deadline_seconds": "7.5", "retry_initial_seconds": "0.25",
          "retry_max_seconds": "4", "cache_dir": "/var/cache/m", "max_batch_rows": "50", "threads": "3",
          "log_config_file": "/etc/log.yaml", "decision_log_size": "0", "fault_delay_ms": "5", "fault_error_rate": "0.5",
          "audit": "false", "audit_dir": "/var/lib/audit", "audit_inputs": "true", "audit_retention_days": "30",
          "audit_max_file_mb": "2.5", "audit_group_commit_ms": "1.5", "drift_window_seconds": "600",
          "max_request_bytes": "1048576"}


def base_env(**extra: str) -> dict[str, str]:
    names = {ENV_NAMES.get(f, f.upper()) for f in ServeSettings.model_fields}
    return {**{k: v for k, v in os.environ.items() if k.upper() not in names}, **extra}


def expected() -> dict:
    return ServeSettings.model_validate(VALUES).model_dump(mode="json")


def test_every_field_is_covered() -> None:
    assert set(VALUES) == set(ServeSettings.model_fields)


def test_every_field_reads_its_environment_variable() -> None:
    env = base_env(**{ENV_NAMES.get(f, f.upper()): v for f, v in VALUES.items()})
    got = serve_settings([], env)
    assert got == expected()
    assert (got["retry_initial_seconds"], got["retry_max_seconds"], got["http_port"]) == (0.25, 4.0, 9001)


def test_every_field_has_a_flag_that_wins_over_the_environment() -> None:
    argv = [arg for field, value in VALUES.items() for arg in (f"--{field.replace('_', '-')}", value)]
    assert serve_settings(argv, base_env(HTTP_PORT="7000", MODEL_URI="models:/env/1")) == expected()


def test_kserve_spellings_of_its_own_flags_are_accepted_and_defaults_do_not_mask_the_environment() -> None:
    got = serve_settings(["--http_port", "9200", "--enable_docs_url", "true"], base_env(MODEL_URI="models:/m/1", GRPC_PORT="9100"))
    assert (got["http_port"], got["grpc_port"]) == (9200, 9100)


def test_a_bad_value_names_the_field() -> None:
    assert "retry_max_seconds" in serve_settings([], base_env(MODEL_URI="models:/m/1", RETRY_MAX_SECONDS="-1"))["error"]
    assert "model_uri" in serve_settings([], base_env())["error"]


def test_the_testing_aids_come_from_the_environment() -> None:
    got = serve_settings([], base_env(MODEL_URI="models:/m/1"))
    assert (got["fault_delay_ms"], got["fault_error_rate"], got["decision_log_size"]) == (0.0, 0.0, 10_000)
    got = serve_settings([], base_env(MODEL_URI="models:/m/1", FAULT_DELAY_MS="25", FAULT_ERROR_RATE="0.2", DECISION_LOG_SIZE="0"))
    assert (got["fault_delay_ms"], got["fault_error_rate"], got["decision_log_size"]) == (25.0, 0.2, 0)
    assert "fault_error_rate" in serve_settings([], base_env(MODEL_URI="models:/m/1", FAULT_ERROR_RATE="1.5"))["error"]


@pytest.mark.parametrize(("argv", "env"), [(["--workers", "2"], {}), ([], {"WORKERS": "4"})], ids=["flag", "env"])
def test_several_server_processes_are_refused_saying_scale_by_replicas(argv, env) -> None:
    """The entry point itself: exit 2 before anything starts, and the way out in the message."""
    done = subprocess.run([sys.executable, "-m", "kserve_model", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=base_env(MODEL_URI="models:/m/1", **env))
    assert done.returncode == 2, done.stderr
    assert "scale by replicas" in done.stderr and ("--workers=2" in done.stderr or "WORKERS=4" in done.stderr)


def test_one_worker_is_still_accepted() -> None:
    """WORKERS=1 is what an older chart sets: not an error."""
    assert serve_settings(["--workers", "1"], base_env(MODEL_URI="models:/m/1", WORKERS="1"))["model_uri"] == "models:/m/1"
