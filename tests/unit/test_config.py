from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import CONFIG_000, CONFIG_001
from training_job.config import ConfigError, load_config
from training_job.settings import parse_settings, parse_tune_settings


def write(tmp_path: Path, body: dict) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


BASE = {"data": {"target": "creditability", "positive_label": "bad"}}


@pytest.mark.parametrize("path", [CONFIG_000, CONFIG_001], ids=lambda p: p.name)
def test_shipped_configs_are_valid(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.registry.model_name.startswith("credit-score")
    assert cfg.scoring.bands[-1].min_score is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"network": {"hidden_size": [8]}}, "network.hidden_size: Extra inputs are not permitted"),
        ({"optimisation": {"lr": "fast"}}, "optimisation.lr: Input should be a valid number"),
        ({"optimisation": {"lr": -1}}, "optimisation.lr: Input should be greater than 0"),
        ({"split": {"test_fraction": 0.9}}, "split.test_fraction: Input should be less than 0.5"),
        ({"network": {"activation": "swish"}}, "network.activation: Input should be 'relu', 'gelu', 'silu' or 'tanh'"),
        ({"scoring": {"bands": [{"name": "a"}, {"name": "b", "min_score": 500}]}}, "scoring: Value error, the last band must have no min_score"),
        ({"scoring": {"bands": [{"name": "a", "min_score": 500}, {"name": "b", "min_score": 600}, {"name": "c"}]}}, "strictly decreasing"),
        ({"data": {"target": "t", "positive_label": 1, "features": {"age": {"min": 9, "max": 1}}}}, "data.features.age: Value error, min (9.0) is greater than max (1.0)"),
        ({"registry": {"model_name": "bad name!"}}, "registry.model_name: String should match pattern"),
    ],
)
def test_bad_config_names_the_yaml_path(tmp_path: Path, change: dict, expected: str) -> None:
    body = {**BASE, **change}
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, body))
    assert expected in str(err.value)
    assert str(tmp_path / "c.yaml") in str(err.value)


def test_missing_required_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.target: Field required"):
        load_config(write(tmp_path, {"data": {"positive_label": 1}}))


def test_not_a_mapping_and_not_yaml(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(p)
    p.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")


def test_overrides_are_validated_like_the_file() -> None:
    cfg = load_config(CONFIG_000, ["optimisation.epochs=5", "network.hidden_sizes=[16, 8]"])
    assert cfg.optimisation.epochs == 5
    assert cfg.network.hidden_sizes == [16, 8]
    with pytest.raises(ConfigError, match="optimisation.epochs: Input should be greater than or equal to 1"):
        load_config(CONFIG_000, ["optimisation.epochs=0"])
    with pytest.raises(ConfigError, match="not of the form"):
        load_config(CONFIG_000, ["optimisation.epochs"])
    with pytest.raises(ConfigError, match=r"override 'network.hidden_sizes=\[16': the value is not valid YAML"):
        load_config(CONFIG_000, ["network.hidden_sizes=[16"])


@pytest.mark.parametrize("parse", [lambda a: parse_settings(["--config", "c.yaml", *a]),
                                   lambda a: parse_tune_settings(["--config", "c.yaml", "--budget-minutes", "1", *a])],
                         ids=["train", "tune"])
def test_a_list_override_on_the_command_line_stays_whole(parse) -> None:
    # pydantic-settings splits a list flag's value at commas: a YAML list must survive it
    args = ["--set", "network.hidden_sizes=[16, 8]", "--set=network.hidden_sizes=[4,2]", "--set", '"a.b=1,2"',
            "--set", "optimisation.epochs=5"]
    assert parse(args).set == ["network.hidden_sizes=[16, 8]", "network.hidden_sizes=[4,2]", "a.b=1,2",
                               "optimisation.epochs=5"]


def test_relative_data_path_resolves_against_the_config(tmp_path: Path) -> None:
    body = {"data": {"path": "sub/d.csv", "target": "t", "positive_label": 1}}
    cfg = load_config(write(tmp_path, body))
    assert Path(cfg.data.path) == (tmp_path / "sub" / "d.csv").resolve()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"protected": ["foreign_worker"], "features": {"foreign_worker": {"reason": "Foreign worker"}}},
         "data.protected[0] 'foreign_worker' is also declared as a feature at data.features.foreign_worker"),
        ({"protected": ["sex", "age"], "age": {"feature": "age"}},
         "data.protected[1] 'age' is also the age input data.age.feature"),
        ({"protected": ["sex"], "drop_columns": ["x", "sex"]}, "data.protected[0] 'sex' is also in data.drop_columns[1]"),
        ({"protected": ["sex", "sex"]}, "data.protected[1] 'sex' is listed twice (first as data.protected[0])"),
        ({"protected": ["creditability"]}, "data.protected[0] 'creditability' is the target column data.target"),
    ],
)
def test_protected_attribute_is_never_a_feature(tmp_path: Path, data: dict, expected: str) -> None:
    body = {"data": {**BASE["data"], **data}}
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, body))
    assert expected in str(err.value)


def test_german_config_protects_sex_marital_status_and_national_origin() -> None:
    cfg = load_config(CONFIG_000)
    assert cfg.data.protected == ["personal_status_and_sex", "foreign_worker"]
    assert cfg.data.age is not None and cfg.data.age.feature == "age_in_years" and cfg.data.age.elderly_from == 62
    assert not load_config(CONFIG_001).data.protected  # no group columns: no fairness section


@pytest.mark.parametrize(("change", "expected"), [
    ({"registry": {"min_air": 1.5}}, "registry.min_air: Input should be less than or equal to 1"),
    ({"fairness": {"air_threshold": 0}}, "fairness.air_threshold: Input should be greater than 0"),
    ({"fairness": {"bootstrap": -1}}, "fairness.bootstrap: Input should be greater than or equal to 0"),
    ({"registry": {"min_air": 0.8}}, "registry.min_air needs data.protected"),
])
def test_bad_fairness_settings_name_the_yaml_path(tmp_path: Path, change: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, {**BASE, **change}))
    assert expected in str(err.value)
