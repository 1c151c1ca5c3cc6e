"""The run store: one SQLite file per run directory, written by the recorder, read by `read(path)`.

Why SQLite: it ships with Python, a transaction is atomic on disk, and in WAL mode a reader sees every
committed flush while the writer keeps going. A `kill -9` of the training process loses only rows that
were never committed: at most the last flush interval.

Layout (long format, so a new series needs no schema change):

- ``meta(key, value)``: JSON values (framework, optimizer, batch size, loader length, drop_last …);
- ``series(id, name)`` and ``points(series, step, value)``: every scalar, NaN stored as NULL;
- ``events(step, kind, message, time)``: the live warnings, in the order they fired.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: The file name the recorder writes inside the run directory; the folder reader looks for it first.
STORE_NAME = "lossdoctor.db"
SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS points (series INTEGER NOT NULL, step INTEGER NOT NULL, value REAL);
CREATE INDEX IF NOT EXISTS points_by_series ON points (series, step);
CREATE TABLE IF NOT EXISTS events (step INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL,
                                   time REAL NOT NULL);
"""

Point = tuple[str, int, float]


def store_path(run_dir: str | os.PathLike[str]) -> Path:
    """Where the store of `run_dir` lives."""
    return Path(run_dir) / STORE_NAME


class StoreWriter:
    """Appends flushes to the store; each `write` is one transaction (all of it lands, or none).

    Errors (read-only directory, full disk, a database locked by another writer) propagate as
    `sqlite3.Error`/`OSError`: the recorder decides what to do with them (report once, keep going).
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 0.2) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a crash of the process (not necessarily of the machine),
            # without an fsync per flush.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._ids: dict[str, int] = dict(
                (name, sid) for sid, name in self._db.execute("SELECT id, name FROM series"))
        except BaseException:
            self._db.close()
            raise

    def write(self, points: Iterable[Point], *, meta: Mapping[str, Any] | None = None,
              events: Iterable[tuple[int, str, str]] = ()) -> None:
        """Commit one flush: new points, updated meta entries and events, in a single transaction."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = []
            for name, step, value in points:
                sid = self._ids.get(name)
                if sid is None:
                    sid = db.execute("INSERT OR IGNORE INTO series (name) VALUES (?)", (name,)).lastrowid
                    if not sid:
                        sid = db.execute("SELECT id FROM series WHERE name = ?", (name,)).fetchone()[0]
                    self._ids[name] = sid
                rows.append((sid, step, value if math.isfinite(value) or math.isinf(value) else None))
            db.executemany("INSERT INTO points (series, step, value) VALUES (?, ?, ?)", rows)
            if meta:
                db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                               [(k, json.dumps(v)) for k, v in meta.items()])
            now = time.time()
            db.executemany("INSERT INTO events (step, kind, message, time) VALUES (?, ?, ?, ?)",
                           [(step, kind, message, now) for step, kind, message in events])
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            # a new series id inserted in the rolled-back transaction does not exist: forget them all
            self._ids = dict((name, sid) for sid, name in db.execute("SELECT id, name FROM series"))
            raise

    def close(self) -> None:
        """Fold the WAL back into the file and leave a plain database (readable from read-only media)."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("PRAGMA journal_mode=DELETE")
        finally:
            self._db.close()


class StoreContent:
    """Everything a store holds, read in one consistent snapshot (a live writer may go on meanwhile)."""

    def __init__(self, meta: dict[str, Any], series: dict[str, tuple[list[int], list[float]]],
                 events: list[tuple[int, str, str]]) -> None:
        self.meta = meta
        self.series = series
        self.events = events


def read_store(path: str | os.PathLike[str]) -> StoreContent:
    """Read a store, also while a recorder is writing it. Raises `sqlite3.Error` when it is not one."""
    db = _connect_read_only(Path(path))
    try:
        db.execute("BEGIN")  # one snapshot for all three tables
        meta = {}
        for key, value in db.execute("SELECT key, value FROM meta"):
            try:
                meta[key] = json.loads(value)
            except ValueError:
                meta[key] = value
        names = dict(db.execute("SELECT id, name FROM series"))
        series: dict[str, tuple[list[int], list[float]]] = {name: ([], []) for name in names.values()}
        for sid, step, value in db.execute("SELECT series, step, value FROM points ORDER BY series, step"):
            name = names.get(sid)
            if name is None:
                continue
            steps, values = series[name]
            steps.append(step)
            values.append(math.nan if value is None else value)
        events = [tuple(row) for row in db.execute("SELECT step, kind, message FROM events ORDER BY rowid")]
        db.execute("COMMIT")
    finally:
        db.close()
    return StoreContent(meta, series, events)  # type: ignore[arg-type]


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Read-only, never creating or changing anything; a store on read-only media opens immutable."""
    uri = path.resolve().as_uri()
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=5.0, isolation_level=None)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        if os.access(path.parent, os.W_OK):
            raise
    db = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
    db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return db
