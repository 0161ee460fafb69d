"""The audit record contract (credit_model/audit_record.py) and the reader's filters (audit/read.py)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from audit.__main__ import main
from audit.read import Filter, records
from credit_model.audit_record import COLUMN_NAMES, DDL, INSERT, canonical_rows, sha256_text


def test_canonical_rows_are_the_same_text_whatever_the_column_types() -> None:
    a = canonical_rows({"age": np.array([30.0, np.nan]), "housing": np.array(["own", None], dtype=object)}, ["age", "housing"])
    b = canonical_rows({"housing": np.array(["own", None], dtype=object), "age": np.array([30, None], dtype=object)},
                       ["age", "housing"])
    assert a == ['{"age":30.0,"housing":"own"}', '{"age":null,"housing":null}']
    assert [json.loads(x) for x in a] == [json.loads(x) for x in b]
    assert sha256_text(a[0]) != sha256_text(a[1]) and len(sha256_text(a[0])) == 64


def record(request_id: str, row: int, time_utc: str, version: str = "1") -> tuple:
    values = {"request_id": request_id, "row": row, "time_utc": time_utc, "model_name": "credit-score",
              "model_version": version, "artifact_digest": "d" * 64, "inputs_sha256": "e" * 64, "inputs_json": None,
              "probability_of_default": 0.1, "score": 600, "decision": "approve", "reason_codes": "[]", "latency_ms": 1.0}
    return tuple(values[c] for c in COLUMN_NAMES)


@pytest.fixture()
def store(tmp_path):
    for day, rows in (("20261201", [record("a", 0, "2026-12-01T23:59:59.000000Z"),
                                    record("a", 1, "2026-12-01T23:59:59.000000Z")]),
                      ("20261202", [record("b", 0, "2026-12-02T08:00:00.000000Z", "2"),
                                    record("c", 0, "2026-12-02T09:30:00.000000Z", "2")])):
        conn = sqlite3.connect(tmp_path / f"audit-{day}-host-1.sqlite")
        for statement in DDL:
            conn.execute(statement)
        conn.executemany(INSERT, rows)
        conn.commit()
        conn.close()
    (tmp_path / "notes.sqlite").write_text("not an audit file")
    return tmp_path


@pytest.mark.parametrize(("where", "expected"), [
    (Filter(), ["a", "a", "b", "c"]),
    (Filter(request_id="b"), ["b"]),
    (Filter(model_version="2"), ["b", "c"]),
    (Filter(since="2026-12-02"), ["b", "c"]),
    (Filter(until="2026-12-02T09:00"), ["a", "a", "b"]),
    (Filter(since="2026-12-02T08:00:00", until="2026-12-02T09:00:00"), ["b"]),
    (Filter(model_name="other"), []),
])
def test_filters(store, where, expected) -> None:
    assert [r.request_id for r in records(store, where)] == expected


def test_limit_spans_files(store) -> None:
    assert [r.request_id for r in records(store, Filter(), limit=3)] == ["a", "a", "b"]


def test_a_day_outside_the_range_is_not_opened(store) -> None:
    assert not Filter(since="2026-12-02").may_hold("20261201")
    assert Filter(since="2026-12-02T23:00").may_hold("20261202")
    assert Filter(until="2026-12-02T00:00:01").may_hold("20261202")


def test_cli_names_a_missing_directory(tmp_path, capsys) -> None:
    assert main(["query", "--dir", str(tmp_path / "nowhere")]) == 2
    assert "no audit directory" in capsys.readouterr().err


def test_cli_rejects_a_bad_limit_naming_it(store, capsys) -> None:
    assert main(["query", "--dir", str(store), "--limit", "0"]) == 2
    assert "limit" in capsys.readouterr().err
