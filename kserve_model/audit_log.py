"""The durable decision record: every scored row is committed to disk before its answer leaves.

One writer thread per process owns the SQLite connection (schema: credit_model/audit_record.py).
Requests hand it their rows and await the commit; whatever queued while a commit was on disk
goes into the next transaction, so concurrent requests share one fsync (group commit) and a
lone request waits for its own only. A failed write (disk full, quota reached, I/O error)
fails every waiting request and the log stays failed: the model turns not-ready with the
reason instead of answering without a record.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import socket
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from credit_model.audit_record import DDL, FILE_GLOB, FILE_PATTERN, INSERT, SCHEMA_VERSION

log = logging.getLogger(__name__)

Row = tuple


class AuditUnavailable(RuntimeError):
    """The record could not be made durable; nothing may be answered."""


def writer_name() -> str:
    """One file per process: REST workers (WORKERS > 1) never share a SQLite writer lock."""
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
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._day: str | None = None
        self._conn: sqlite3.Connection | None = None
        self.path: Path | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self._connection()  # a directory we cannot write fails here, at load, not on the first request
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    # -- the request side ------------------------------------------------------------------
    async def append(self, rows: Sequence[Row]) -> None:
        """Return once `rows` are committed to disk; raise AuditUnavailable when they cannot be."""
        if self.failure:
            raise AuditUnavailable(self.failure)
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._queue.put((rows, loop, done))
        await done

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    # -- the writer thread -----------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        day = datetime.now(timezone.utc).strftime("%Y%m%d")
        if self._conn is not None and day == self._day:
            return self._conn
        if self._conn is not None:
            self._conn.close()
        self.path = self.directory / f"audit-{day}-{self.writer}.sqlite"
        # autocommit mode (isolation_level=None): transactions are the explicit BEGIN/COMMIT below
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")  # readers (python -m audit) never block this writer
        conn.execute("PRAGMA synchronous=FULL")  # a returned COMMIT is on disk, WAL fsynced
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

    def _next_batch(self) -> tuple[list, bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        batch, deadline = [first], time.monotonic() + self.group_commit_s
        while True:
            wait = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                return batch, False
            if item is None:
                return batch, True
            batch.append(item)

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._next_batch()
            if not batch:
                continue
            error = None
            if self.failure:
                error = AuditUnavailable(self.failure)
            else:
                try:
                    conn = self._connection()
                    conn.execute("BEGIN")
                    for rows, _, _ in batch:
                        conn.executemany(INSERT, rows)
                    conn.execute("COMMIT")
                    self.commits += 1
                except (sqlite3.Error, OSError) as e:
                    self.failure = f"audit log {self.path}: {type(e).__name__}: {e}"
                    log.error("%s: no decision is answered without its record", self.failure)
                    error = AuditUnavailable(self.failure)
                    try:
                        self._conn.execute("ROLLBACK")
                    except (sqlite3.Error, AttributeError):
                        pass
            for _, loop, done in batch:
                loop.call_soon_threadsafe(_settle, done, error)
        if self._conn is not None:
            self._conn.close()


def _settle(done: asyncio.Future, error: Exception | None) -> None:
    if done.done():  # the request was cancelled meanwhile (client gone)
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
