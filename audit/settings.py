"""Settings of `python -m audit`: each flag also from AUDIT_<FLAG> (`--dir` ↔ AUDIT_DIR, the
variable the predictor writes to), a flag wins; read by pydantic-settings like every entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="forbid", cli_kebab_case=True)

    dir: Path = Field(default=Path("/tmp/credit-score-audit"), description="the predictor's audit directory (AUDIT_DIR)")
    request_id: str | None = Field(default=None, description="records of this request id (x-request-id)")
    since: str | None = Field(default=None, description="from this UTC time on, ISO 8601 (2026-12-02 or 2026-12-02T10:00)")
    until: str | None = Field(default=None, description="before this UTC time, ISO 8601")
    model_name: str | None = Field(default=None, description="records of this registered model")
    model_version: str | None = Field(default=None, description="records of this registered version")


class QuerySettings(_Settings):
    limit: int | None = Field(default=None, ge=1, description="at most this many records")
    format: Literal["table", "jsonl"] = Field(default="table", description="a table, or one JSON object per line")


class ExportSettings(_Settings):
    parquet: Path = Field(description="Parquet file to write (needs pyarrow: pip install 'credit-score[audit]')")


class DriftSettings(_Settings):
    artifact: Path = Field(description="the model's artifact folder (its training reference), e.g. from "
                                       "`mlflow artifacts download -u models:/credit-score/2`")
    out: Path = Field(default=Path("drift-report"), description="folder for drift.csv and drift.png (needs matplotlib)")


COMMANDS: dict[str, tuple[type[_Settings], str]] = {
    "query": (QuerySettings, "print the matching records"),
    "export": (ExportSettings, "write the matching records to a Parquet file for the risk team"),
    "drift": (DriftSettings, "PSI of every input and of the score in the records against the training reference"),
}
