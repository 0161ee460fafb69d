"""Training job settings: every option from a flag or its environment variable (a flag wins),
read by pydantic-settings as the predictor's are (kserve_model/settings.py)."""

from __future__ import annotations

import argparse
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


def parse_settings(argv: list[str] | None = None) -> TrainSettings:
    parser = argparse.ArgumentParser(prog="python -m training_job",
                                     description="Train, evaluate, export and register a credit-risk network.")
    source = CliSettingsSource(TrainSettings, root_parser=parser)
    return TrainSettings(_cli_settings_source=source(args=argv if argv is not None else True))
