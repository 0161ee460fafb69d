"""Web client settings: every option from a flag or the environment variable of the same
name (a flag wins), read by pydantic-settings as every entry point of the project does."""

from __future__ import annotations

import argparse

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, CliSettingsSource, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", frozen=True, cli_kebab_case=True)

    predictor_url: str = Field(default="http://127.0.0.1:8080", min_length=1,
                               description="base URL of the predictor or gateway")
    model_name: str = Field(default="credit-score", min_length=1, description="served model name")
    artifact: str | None = Field(default=None, description="artifact folder, models:/name@alias (needs "
                                 "MLFLOW_TRACKING_URI), or `predictor`; unset: `predictor`, the predictor's own "
                                 "GET /v2/models/{name}/spec (metadata only where it publishes none)")
    mlflow_tracking_uri: str | None = Field(default=None, description="MLflow for a models:/ ARTIFACT")
    spec_ttl_seconds: float = Field(default=300.0, ge=0, description="how long the spec is cached")
    metadata_ttl_seconds: float = Field(default=30.0, ge=0, description="how long the v2 metadata is cached "
                                                                         "(/api/form?refresh=true reloads)")
    predictor_timeout_seconds: float = Field(default=10.0, gt=0, description="per call to the predictor")
    host: str = Field(default="127.0.0.1", description="address the web client listens on")
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"

    @field_validator("predictor_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        return url.rstrip("/")

    @field_validator("artifact", "mlflow_tracking_uri")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None


def parse_settings(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m examples.client_web", description="Serve the credit-score web client.")
    source = CliSettingsSource(Settings, root_parser=parser)
    return Settings(_cli_settings_source=source(args=argv if argv is not None else True))
