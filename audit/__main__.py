"""`python -m audit {query,export,drift}`: the predictor's decision records, by request id,
time range or model version, and their drift against the training reference (settings:
audit/settings.py)."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError
from pydantic_settings import BaseSettings, CliSettingsSource

from audit.read import Filter, records
from audit.settings import COMMANDS, DriftSettings, ExportSettings, QuerySettings
from credit_model.artifact import ArtifactError
from credit_model.audit_record import COLUMNS

TABLE_COLUMNS = ("time_utc", "request_id", "row", "model_version", "score", "decision", "probability_of_default")


def parse_settings(argv: list[str] | None = None) -> tuple[str, BaseSettings]:
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sources = {name: CliSettingsSource(cls, root_parser=sub.add_parser(name, help=help_, description=help_))
               for name, (cls, help_) in COMMANDS.items()}
    parsed = parser.parse_args(argv)
    settings, _ = COMMANDS[parsed.command]
    return parsed.command, settings(_cli_settings_source=sources[parsed.command](parsed_args=vars(parsed)))


def where(s: QuerySettings | ExportSettings) -> Filter:
    return Filter(s.request_id, s.since, s.until, s.model_name, s.model_version)


def query(s: QuerySettings) -> int:
    found = 0
    if s.format == "table":
        print("  ".join(TABLE_COLUMNS))
    for record in records(s.dir, where(s), s.limit):
        found += 1
        if s.format == "jsonl":
            print(record.model_dump_json())
        else:
            print("  ".join(str(getattr(record, c)) for c in TABLE_COLUMNS))
    print(f"{found} record(s)", file=sys.stderr)
    return 0 if found else 1


def export(s: ExportSettings) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        print("error: export needs pyarrow: pip install 'credit-score[audit]'", file=sys.stderr)
        return 2
    types = {"TEXT": pa.string(), "INTEGER": pa.int64(), "REAL": pa.float64()}
    schema = pa.schema([(name, types[sql.split()[0]]) for name, sql in COLUMNS])
    rows = [r.model_dump() for r in records(s.dir, where(s))]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), s.parquet)
    print(f"{len(rows)} record(s) -> {s.parquet}", file=sys.stderr)
    return 0


def drift(s: DriftSettings) -> int:
    from audit.drift_report import NoInputsRecorded, drift_rows, level, write_report

    try:
        rows, digest = drift_rows(s.dir, s.artifact, where(s))
    except (NoInputsRecorded, ArtifactError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{'input':32} {'PSI':>8} {'rows':>8}  level")
    for r in rows:
        print(f"{r.name:32} {'-' if r.psi is None else format(r.psi, '.4f'):>8} {r.rows:>8}  {level(r.psi)}")
    for path in write_report(rows, s.out, f"drift against artifact sha256:{digest[:12]} ({s.dir})"):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        command, settings = parse_settings(argv)
    except ValidationError as e:
        print(f"error: invalid audit settings:\n{e}", file=sys.stderr)
        return 2
    try:
        return {"query": query, "export": export, "drift": drift}[command](settings)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
