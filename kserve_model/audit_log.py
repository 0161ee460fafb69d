"""The durable decision record: every scored row is committed to disk before its answer leaves.

A request adds its rows to the pending group and awaits the commit (schema:
credit_model/audit_record.py). The event loop that answers the requests commits the group in
one transaction (SQLite, WAL, synchronous=FULL: one fsync): at once when the previous group
was a lone request, so a request alone never waits for company; after AUDIT_GROUP_COMMIT_MS
when the previous group held several, so a busy server shares one fsync among many (group
commit). The loop, not a writer thread, does the writing: handing every request across
threads and the interpreter lock cost more than the fsync it would hide (measured with
benchmarks/serving.py on 2 cores). A failed write (disk full, quota reached, I/O error) fails
every waiting request and the log stays failed: the model turns not-ready with the reason
instead of answering unrecorded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from credit_model.audit_record import DDL, FILE_GLOB, FILE_PATTERN, INSERT, SCHEMA_VERSION
from kserve_model.metrics import AUDIT_COMMITS, AUDIT_ROWS

log = logging.getLogger(__name__)

Row = tuple


class AuditUnavailable(RuntimeError):
    """The record could not be made durable; nothing may be answered."""


def writer_name() -> str:
    """One file per process: pods sharing the audit volume (replicas, stable and canary) never
    share a SQLite writer lock."""
    return f"{socket.gethostname()}-{os.getpid()}".replace("/", "_")


class AuditLog:
    def __init__(self, directory: Path, *, retention_days: int = 0, max_file_mb: float = 0.0,
                 group_commit_ms: float = 0.0, writer: str | None = None) -> None:
        self.directory = directory
        self.retention_days = retention_days
        self.max_file_mb = max_file_mb
        self.group_commit_s = group_commit_ms / 1000.0
        self.writer = writer or writer_name()
        self.failure: str | None = None
        self.commits = 0
        self._pending: list[tuple[Sequence[Row], asyncio.Future]] = []
        self._last_group = 1
        self._day: str | None = None
        self._conn: sqlite3.Connection | None = None
        self.path: Path | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self._connection()  # a directory we cannot write fails here, at load, not on the first request

    async def append(self, rows: Sequence[Row]) -> None:
        """Return once `rows` are committed to disk; raise AuditUnavailable when they cannot be."""
        if self.failure:
            raise AuditUnavailable(self.failure)
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        if not self._pending:  # the first of a group schedules the commit for the whole group
            if self.group_commit_s and self._last_group > 1:
                loop.call_later(self.group_commit_s, self._commit_pending)
            else:
                loop.call_soon(self._commit_pending)
        self._pending.append((rows, done))
        await done

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _commit_pending(self) -> None:
        batch, self._pending = self._pending, []
        self._last_group = len(batch)
        error = self._commit(batch)
        for _, done in batch:
            if done.done():  # the request was cancelled meanwhile (client gone)
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

    def _commit(self, batch: list[tuple[Sequence[Row], asyncio.Future]]) -> AuditUnavailable | None:
        if self.failure:
            return AuditUnavailable(self.failure)
        try:
            conn = self._connection()
            conn.execute("BEGIN")
            for rows, _ in batch:
                conn.executemany(INSERT, rows)
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as e:
            self.failure = f"audit log {self.path}: {type(e).__name__}: {e}"
            log.error("%s: no decision is answered without its record", self.failure)
            try:
                self._conn.execute("ROLLBACK")
            except (sqlite3.Error, AttributeError):
                pass
            return AuditUnavailable(self.failure)
        self.commits += 1
        AUDIT_COMMITS.inc()
        AUDIT_ROWS.inc(sum(len(rows) for rows, _ in batch))
        return None

    def _connection(self) -> sqlite3.Connection:
        day = datetime.now(timezone.utc).strftime("%Y%m%d")
        if self._conn is not None and day == self._day:
            return self._conn
        if self._conn is not None:
            self._conn.close()
        self.path = self.directory / f"audit-{day}-{self.writer}.sqlite"
        # autocommit mode (isolation_level=None): transactions are the explicit BEGIN/COMMIT;
        # opened by the thread that loads the model, used by the event loop
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")  # readers (python -m audit) never block this writer
        conn.execute("PRAGMA synchronous=FULL")  # a returned COMMIT is on disk, WAL fsynced
        # checkpoint (copy the WAL into the database) every 1 MB of WAL: short pauses, and a WAL
        # that stays small (a long WAL makes every commit slower)
        conn.execute("PRAGMA wal_autocheckpoint=256")
        if self.max_file_mb:
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={max(int(self.max_file_mb * 1e6 / page), 16)}")
        for statement in DDL:
            conn.execute(statement)
        if conn.execute("SELECT COUNT(*) FROM schema").fetchone()[0] == 0:
            conn.execute("INSERT INTO schema (version) VALUES (?)", (SCHEMA_VERSION,))
        self._conn, self._day = conn, day
        self._expire()
        return conn

    def _expire(self) -> None:
        if not self.retention_days:
            return
        oldest = (datetime.now(timezone.utc) - timedelta(days=self.retention_days)).strftime("%Y%m%d")
        for path in self.directory.glob(FILE_GLOB):
            match = FILE_PATTERN.fullmatch(path.name)
            if match and match["day"] < oldest:
                for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                    stale.unlink(missing_ok=True)
                log.info("audit: %s is past the retention of %d days: removed", path.name, self.retention_days)

