"""`python -m rollout` settings: each flag mirrors an environment variable (ROLLOUT_<FLAG>, or
the chart's MODEL_NAME / HELM / POD_NAMESPACE), a flag wins, and a bad value names its field."""

from __future__ import annotations

import os
import re

import pytest

from rollout.__main__ import main, parse_settings
from rollout.settings import COMMANDS

REQUIRED = {"status": ["--release", "r"], "analyze": [], "decide": [], "apply": ["--release", "r"]}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("ROLLOUT_") or name in {"MODEL_NAME", "HELM", "POD_NAMESPACE"}:
            monkeypatch.delenv(name)


def env_name(command: str, field: str) -> str:
    alias = COMMANDS[command][0].model_fields[field].validation_alias
    return (alias if isinstance(alias, str) else f"rollout_{field}").upper()


SAMPLES = {"str": "x1", "int": "7", "float": "2.5", "bool": "true", "Path": "some/file", "list": '["a", "b"]'}


def sample(annotation) -> tuple[str, str]:
    """An environment value of the field's type, and which type that is."""
    text = str(annotation)
    literal = re.search(r"Literal\['([^']+)'", text)
    if literal:  # a choice: its first one
        return literal.group(1), "literal"
    kind = next((k for k in ("list", "bool", "float", "int", "Path") if k in text), "str")
    return SAMPLES[kind], kind


def args_for(command: str, field: str, *extra: str) -> list[str]:
    return [command, *([] if field == "release" else REQUIRED[command]), *extra]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_field_reads_its_environment_variable_and_a_flag_wins(command, monkeypatch) -> None:
    for field, info in COMMANDS[command][0].model_fields.items():
        raw, kind = sample(info.annotation)
        monkeypatch.setenv(env_name(command, field), raw)
        value = getattr(parse_settings(args_for(command, field))[1], field)
        assert value not in (None, [], False, "-"), (command, field, value)
        if kind in ("str", "Path"):
            flag = "--json" if field == "json_output" else "--" + field.replace("_", "-")
            assert str(getattr(parse_settings(args_for(command, field, flag, "y2"))[1], field)) == "y2", (command, field)
        monkeypatch.delenv(env_name(command, field))


def test_the_namespace_falls_back_to_the_pod_namespace(monkeypatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "ml")
    assert parse_settings(["status", "--release", "r"])[1].namespace == "ml"
    monkeypatch.setenv("ROLLOUT_NAMESPACE", "prod")
    assert parse_settings(["status", "--release", "r"])[1].namespace == "prod"
    assert parse_settings(["status", "--release", "r", "-n", "dev"])[1].namespace == "dev"


def test_a_bad_value_names_the_field(capsys) -> None:
    assert main(["analyze", "--timeout", "soon"]) == 2
    err = capsys.readouterr().err
    assert "invalid rollout settings" in err and "timeout" in err


def test_a_missing_release_is_named(capsys) -> None:
    assert main(["status"]) == 2
    assert "release" in capsys.readouterr().err
