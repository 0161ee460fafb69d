"""The audit record: one row per scored applicant, written by the predictor before it answers
(kserve_model/audit_log.py) and read by `python -m audit` (query, Parquet export).

The store is SQLite (stdlib, one file per process and UTC day) in WAL mode with
`synchronous=FULL`: a commit is on disk when it returns, readers never block the writer, and
any SQLite client can read the files. This module is the one place that says what a record
holds; bump SCHEMA_VERSION when a column changes meaning.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import numpy as np
from pydantic import BaseModel

SCHEMA_VERSION = 1
TABLE = "decisions"
FILE_GLOB = "audit-*.sqlite"
FILE_PATTERN = re.compile(r"audit-(?P<day>\d{8})-(?P<writer>[A-Za-z0-9_.-]+)\.sqlite")

COLUMNS = (
    ("request_id", "TEXT NOT NULL"),
    ("row", "INTEGER NOT NULL"),
    ("time_utc", "TEXT NOT NULL"),
    ("model_name", "TEXT NOT NULL"),
    ("model_version", "TEXT NOT NULL"),
    ("artifact_digest", "TEXT NOT NULL"),
    ("inputs_sha256", "TEXT NOT NULL"),
    ("inputs_json", "TEXT"),
    ("probability_of_default", "REAL NOT NULL"),
    ("score", "INTEGER NOT NULL"),
    ("decision", "TEXT NOT NULL"),
    ("reason_codes", "TEXT NOT NULL"),
    ("latency_ms", "REAL NOT NULL"),
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)

DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ({', '.join(f'{n} {t}' for n, t in COLUMNS)})",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_request ON {TABLE} (request_id)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_time ON {TABLE} (time_utc)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_version ON {TABLE} (model_name, model_version)",
    "CREATE TABLE IF NOT EXISTS schema (version INTEGER NOT NULL)",
)
INSERT = f"INSERT INTO {TABLE} ({', '.join(COLUMN_NAMES)}) VALUES ({', '.join('?' * len(COLUMN_NAMES))})"


class AuditRecord(BaseModel):
    """What `python -m audit query` prints per row (the same names as the columns)."""

    request_id: str
    row: int
    time_utc: str
    model_name: str
    model_version: str
    artifact_digest: str
    inputs_sha256: str
    inputs_json: str | None = None
    probability_of_default: float
    score: int
    decision: str
    reason_codes: str
    latency_ms: float


def utc_now() -> str:
    """ISO 8601 with microseconds and a Z: sorts as text, so time ranges are string ranges."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_CANONICAL = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _values(column: np.ndarray) -> list:
    """Plain Python values with NaN as None (the request's missing value)."""
    values = column.tolist()
    if column.dtype.kind == "f":
        return [None if v != v else v for v in values]  # v != v: NaN
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def canonical_rows(columns: Mapping[str, np.ndarray], names: Sequence[str]) -> list[str]:
    """Each row's inputs as canonical JSON (features in `names` order, missing as null): the
    text whose SHA-256 identifies what the model saw, whatever the request's form."""
    cols = [_values(np.asarray(columns[n])) for n in names]
    return [_CANONICAL(dict(zip(names, row))) for row in zip(*cols)]


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
