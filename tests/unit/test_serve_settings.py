"""Serving settings: each field from its flag or its environment variable, the flag winning."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kserve_model.settings import ServeSettings, parse_settings

ENV_NAMES = {"tracking_uri": "MLFLOW_TRACKING_URI", "cache_dir": "MODEL_CACHE_DIR", "threads": "INFERENCE_THREADS"}
VALUES = {"model_name": "m", "model_uri": "models:/m/3", "tracking_uri": "http://mlflow:5000", "http_port": "9001",
          "grpc_port": "9002", "workers": "2", "load_deadline_seconds": "7.5", "retry_initial_seconds": "0.25",
          "retry_max_seconds": "4", "cache_dir": "/var/cache/m", "max_batch_rows": "50", "threads": "3",
          "log_config_file": "/etc/log.yaml", "decision_log_size": "0", "fault_delay_ms": "5", "fault_error_rate": "0.5"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for field in ServeSettings.model_fields:
        monkeypatch.delenv(ENV_NAMES.get(field, field.upper()), raising=False)


def test_every_field_is_covered() -> None:
    assert set(VALUES) == set(ServeSettings.model_fields)


def test_every_field_reads_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for field, value in VALUES.items():
        monkeypatch.setenv(ENV_NAMES.get(field, field.upper()), value)
    s = parse_settings([])
    expected = ServeSettings.model_validate(VALUES)
    assert s == expected
    assert (s.retry_initial_seconds, s.retry_max_seconds, s.http_port) == (0.25, 4.0, 9001)


def test_every_field_has_a_flag_that_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PORT", "7000")
    monkeypatch.setenv("MODEL_URI", "models:/env/1")
    argv = [arg for field, value in VALUES.items() for arg in (f"--{field.replace('_', '-')}", value)]
    assert parse_settings(argv) == ServeSettings.model_validate(VALUES)


def test_kserve_spellings_of_its_own_flags_are_accepted_and_defaults_do_not_mask_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_URI", "models:/m/1")
    monkeypatch.setenv("GRPC_PORT", "9100")
    s = parse_settings(["--http_port", "9200", "--enable_docs_url", "true"])
    assert (s.http_port, s.grpc_port, s.workers) == (9200, 9100, 1)


def test_a_bad_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_URI", "models:/m/1")
    monkeypatch.setenv("RETRY_MAX_SECONDS", "-1")
    with pytest.raises(ValidationError, match="retry_max_seconds"):
        parse_settings([])
    with pytest.raises(ValidationError, match="model_uri"):
        monkeypatch.delenv("MODEL_URI")
        parse_settings([])
