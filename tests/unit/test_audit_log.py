"""The audit writer on its own: concurrent requests share commits, every row lands, old files
go after the retention, and a failed write fails the waiting requests and every later one."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from credit_model.audit_record import utc_now
from kserve_model.audit_log import AuditLog, AuditUnavailable
from tests.unit.test_audit_record import record


def count(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    finally:
        conn.close()


def test_concurrent_appends_share_commits_and_all_land(tmp_path) -> None:
    log = AuditLog(tmp_path, group_commit_ms=5, writer="t")

    async def burst() -> None:
        await asyncio.gather(*(log.append([record(f"r{i}", 0, utc_now()), record(f"r{i}", 1, utc_now())])
                               for i in range(200)))

    asyncio.run(burst())
    log.close()
    assert count(log.path) == 400
    assert 1 <= log.commits < 200  # group commit: far fewer fsyncs than requests


def test_files_past_the_retention_are_removed_and_recent_ones_kept(tmp_path) -> None:
    old, recent = tmp_path / "audit-20200101-x.sqlite", tmp_path / f"audit-{utc_now()[:10].replace('-', '')}-y.sqlite"
    for path in (old, recent, tmp_path / "audit-20200101-x.sqlite-wal"):
        path.write_bytes(b"")
    AuditLog(tmp_path, retention_days=30, writer="t").close()
    assert not old.exists() and not (tmp_path / "audit-20200101-x.sqlite-wal").exists() and recent.exists()


def test_a_full_store_fails_the_request_and_every_later_one(tmp_path) -> None:
    log = AuditLog(tmp_path, max_file_mb=0.05, writer="t")
    big = [record("r", i, utc_now()) for i in range(200)]

    async def fill() -> int:
        answered = 0
        with pytest.raises(AuditUnavailable, match="full"):
            for _ in range(100):
                await log.append(big)
                answered += 1
        with pytest.raises(AuditUnavailable, match="full"):
            await log.append(big[:1])
        return answered

    answered = asyncio.run(fill())
    log.close()
    assert count(log.path) == answered * len(big)  # the failed transaction left nothing half-written
