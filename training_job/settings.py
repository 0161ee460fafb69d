"""Training job settings: every option from a flag or its environment variable (a flag wins),
read by pydantic-settings as the predictor's are (kserve_model/settings.py). `TuneSettings` are the
flags of `python -m training_job tune` (training_job/tune.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, CliSettingsSource, SettingsConfigDict


class TrainSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", frozen=True, cli_kebab_case=True, populate_by_name=True)

    config: Path = Field(validation_alias=AliasChoices("config", "training_config"),
                         description="YAML config, e.g. config/models-configs/model_config_000.yaml (env TRAINING_CONFIG)")
    tracking_uri: str | None = Field(default=None, validation_alias=AliasChoices("tracking_uri", "mlflow_tracking_uri"),
                                     description="MLflow tracking server (env MLFLOW_TRACKING_URI); without one, export locally only")
    data: str | None = Field(default=None, validation_alias=AliasChoices("data", "training_data"),
                             description="data file overriding data.path (env TRAINING_DATA)")
    experiment: str | None = Field(default=None, validation_alias=AliasChoices("experiment", "mlflow_experiment_name"),
                                   description="MLflow experiment, default registry.experiment (env MLFLOW_EXPERIMENT_NAME)")
    output_dir: Path | None = Field(default=None, description="also keep the exported artifact here")
    set: list[str] = Field(default_factory=list,
                           description="override a config field, SECTION.FIELD=VALUE, e.g. optimisation.epochs=5 (repeatable)")
    log_level: str = "INFO"


def whole_overrides(argv: list[str]) -> list[str]:
    """`--set` values kept whole: pydantic-settings splits a list flag's value at commas (`--set a=1,b=2`
    is two items), which cut `network.hidden_sizes=[128, 64]` in two; it keeps a double-quoted one."""
    out, after_set = [], False
    for arg in argv:
        flag, eq, value = arg.partition("=")
        if after_set and "," in arg and not arg.startswith('"'):
            arg = f'"{arg}"'
        elif flag == "--set" and eq and "," in value and not value.startswith('"'):
            arg = f'--set="{value}"'
        out.append(arg)
        after_set = arg == "--set"
    return out


def parse_settings(argv: list[str] | None = None) -> TrainSettings:
    parser = argparse.ArgumentParser(prog="python -m training_job",
                                     description="Train, evaluate, export and register a credit-risk network. "
                                                 "`python -m training_job tune --help`: the hyperparameter search.")
    source = CliSettingsSource(TrainSettings, root_parser=parser)
    return TrainSettings(_cli_settings_source=source(args=whole_overrides(sys.argv[1:] if argv is None else argv)))


class TuneSettings(BaseSettings):
    """The config, data and MLflow flags read the same variables as training's; the others
    `TUNE_<FLAG>` (TUNE_BUDGET_MINUTES, ...)."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, cli_kebab_case=True, populate_by_name=True,
                                      env_prefix="TUNE_")

    config: Path = Field(validation_alias=AliasChoices("config", "training_config"),
                         description="YAML config to start from; its other fields are kept (env TRAINING_CONFIG)")
    budget_minutes: float = Field(gt=0, description="start no trial after this many minutes (the running one finishes)")
    trials: int | None = Field(default=None, ge=1, description="at most this many trials (default: until the budget)")
    seed: int | None = Field(default=None, description="TPE sampler seed (default: the config's split.seed); with "
                                                        "optimisation.threads 1 the same seed gives the same trials")
    folds: int | None = Field(default=None, ge=2, le=20,
                              description="objective: mean validation AUC over K stratified folds of the non-test "
                                          "rows (default: the training job's own validation split)")
    tracking_uri: str | None = Field(default=None, validation_alias=AliasChoices("tracking_uri", "mlflow_tracking_uri"),
                                     description="MLflow tracking server (env MLFLOW_TRACKING_URI): a parent run for "
                                                 "the study, a nested run per trial; without one, nothing is logged")
    experiment: str | None = Field(default=None, validation_alias=AliasChoices("experiment", "mlflow_experiment_name"),
                                   description="MLflow experiment, default <registry.experiment>-tuning (env "
                                               "MLFLOW_EXPERIMENT_NAME)")
    data: str | None = Field(default=None, validation_alias=AliasChoices("data", "training_data"),
                             description="data file overriding data.path (env TRAINING_DATA); in memory, not a "
                                         "streamed Parquet dataset")
    output: Path | None = Field(default=None, description="the tuned config (default: <config stem>-tuned.yaml in "
                                                          "the current directory)")
    set: list[str] = Field(default_factory=list,
                           description="override a config field before the search, SECTION.FIELD=VALUE, e.g. "
                                       "optimisation.seeds=1 (repeatable; kept in the tuned config)")
    log_level: str = "WARNING"


TUNE_DESCRIPTION = """Search the network and optimisation settings of a config with Optuna (TPE, seeded; a
MedianPruner stops trials whose validation AUC lags), each trial the training job's own fit, and write the
best as a config. The objective is validation AUC on rows of the training job's train and validation splits:
the TEST SPLIT IS NEVER USED, so the tuned config can be judged on it afterwards with
`python -m training_job --config TUNED.yaml`."""


def parse_tune_settings(argv: list[str]) -> TuneSettings:
    # no abbreviations: `--budget 3` is an unknown flag, not --budget-minutes
    parser = argparse.ArgumentParser(prog="python -m training_job tune", description=TUNE_DESCRIPTION, allow_abbrev=False)
    source = CliSettingsSource(TuneSettings, root_parser=parser)
    return TuneSettings(_cli_settings_source=source(args=whole_overrides(argv)))
