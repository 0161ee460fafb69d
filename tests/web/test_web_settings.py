"""The web client's settings: each field from its environment variable or its flag (a flag
wins), and a bad value names its field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from examples.client_web.settings import Settings, parse_settings

VALUES = {"predictor_url": ("http://gw:8080/", "http://gw:8080"), "model_name": ("m2", "m2"),
          "artifact": ("models:/m@champion", "models:/m@champion"), "mlflow_tracking_uri": ("http://mlflow", "http://mlflow"),
          "spec_ttl_seconds": ("5", 5.0), "metadata_ttl_seconds": ("6", 6.0), "predictor_timeout_seconds": ("7", 7.0),
          "host": ("0.0.0.0", "0.0.0.0"), "port": ("8001", 8001), "log_level": ("debug", "debug")}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for field in Settings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)


def test_every_field_is_covered() -> None:
    assert set(VALUES) == set(Settings.model_fields)


@pytest.mark.parametrize("field", list(VALUES))
def test_environment_and_flag(field, monkeypatch) -> None:
    raw, parsed = VALUES[field]
    monkeypatch.setenv(field.upper(), raw)
    assert getattr(parse_settings([]), field) == parsed
    flag = "--" + field.replace("_", "-")
    other = "9" if isinstance(parsed, (int, float)) else "http://flag"
    assert getattr(parse_settings([flag, other]), field) == type(parsed)(other)


def test_a_bad_value_names_the_field(monkeypatch) -> None:
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(ValidationError, match="port"):
        parse_settings([])
