"""Reading audit files: every file of a directory, each opened read-only, so a query never
blocks the predictor writing to it (SQLite WAL: readers and the writer do not wait on each other)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from credit_model.audit_record import COLUMN_NAMES, FILE_GLOB, FILE_PATTERN, TABLE, AuditRecord


@dataclass(frozen=True)
class Filter:
    request_id: str | None = None
    since: str | None = None
    """ISO 8601 UTC, inclusive (`2026-12-02`, `2026-12-02T10:00:00`)."""
    until: str | None = None
    """ISO 8601 UTC, exclusive."""
    model_name: str | None = None
    model_version: str | None = None

    def where(self) -> tuple[str, list[str]]:
        clauses, params = [], []
        for column, op, value in (("request_id", "=", self.request_id), ("time_utc", ">=", self.since),
                                  ("time_utc", "<", self.until), ("model_name", "=", self.model_name),
                                  ("model_version", "=", self.model_version)):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def may_hold(self, day: str) -> bool:
        """Whether a file of this UTC day (YYYYMMDD) can hold records in the time range."""
        since = (self.since or "")[:10].replace("-", "")
        until = (self.until or "")[:10].replace("-", "")
        return (not since or day >= since) and (not until or day <= until)


def audit_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise FileNotFoundError(f"no audit directory {directory}")
    return sorted(p for p in directory.glob(FILE_GLOB) if FILE_PATTERN.fullmatch(p.name))


def records(directory: Path, where: Filter, limit: int | None = None) -> Iterator[AuditRecord]:
    """Matching records, file by file (oldest day first), each file in time order."""
    clause, params = where.where()
    sql = f"SELECT {', '.join(COLUMN_NAMES)} FROM {TABLE}{clause} ORDER BY time_utc, request_id, row"
    left = limit
    for path in audit_files(directory):
        if not where.may_hold(FILE_PATTERN.fullmatch(path.name)["day"]):
            continue
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            for values in conn.execute(sql + (f" LIMIT {int(left)}" if left is not None else ""), params):
                yield AuditRecord(**dict(zip(COLUMN_NAMES, values)))
                if left is not None:
                    left -= 1
        finally:
            conn.close()
        if left is not None and left <= 0:
            return
