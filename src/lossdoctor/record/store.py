"""The run store: one SQLite file per run directory, written by the recorder, read by `read(path)`.

Why SQLite: it ships with Python, a transaction is atomic on disk, and in WAL mode a reader sees every
committed flush while the writer keeps going. A `kill -9` of the training process loses only rows that
were never committed: at most the last flush interval.

Layout (long format, so a new series needs no schema change):

- ``meta(key, value)``: JSON values (framework, optimizer, batch size, loader length, drop_last …);
- ``series(id, name)`` and ``chunks(series, steps, vals)``: each flush writes one chunk per series, its
  steps (int64) and values (float64, NaN and inf kept) as little-endian arrays: a few rows per flush
  instead of one per point, which keeps a flush cheap enough to run inside the training loop;
- ``events(step, kind, message, time)``: the live warnings, in the order they fired.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: The file name the recorder writes inside the run directory; the folder reader looks for it first.
STORE_NAME = "lossdoctor.db"
SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS chunks (series INTEGER NOT NULL, steps BLOB NOT NULL, vals BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS events (step INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL,
                                   time REAL NOT NULL);
"""

#: Series name -> (steps, values) of one flush.
Chunks = dict[str, tuple[np.ndarray, np.ndarray]]


def store_path(run_dir: str | os.PathLike[str]) -> Path:
    """Where the store of `run_dir` lives."""
    return Path(run_dir) / STORE_NAME


def set_aside(path: Path) -> Path | None:
    """Rename an existing store (with its WAL) to `lossdoctor.prev-N.db`, so a new run starts clean.

    The folder reader only reads `lossdoctor.db`, so a set-aside store never mixes into the new run's
    diagnosis, and nothing is deleted. Returns the new name, or None when there was no store.
    """
    if not path.exists():
        return None
    n = 1
    while (target := path.with_name(f"lossdoctor.prev-{n}.db")).exists():
        n += 1
    for suffix in ("-wal", "-shm"):  # the WAL keeps its committed pages under the new name
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    path.rename(target)
    return target


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

    def write(self, chunks: Iterable[Chunks], *, meta: Mapping[str, Any] | None = None,
              events: Iterable[tuple[int, str, str]] = ()) -> None:
        """Commit flushes: their chunks, updated meta entries and events, in a single transaction."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = []
            for chunk in chunks:
                for name, (steps, values) in chunk.items():
                    sid = self._ids.get(name)
                    if sid is None:
                        db.execute("INSERT OR IGNORE INTO series (name) VALUES (?)", (name,))
                        sid = db.execute("SELECT id FROM series WHERE name = ?", (name,)).fetchone()[0]
                        self._ids[name] = sid
                    rows.append((sid, np.ascontiguousarray(steps, dtype="<i8").tobytes(),
                                 np.ascontiguousarray(values, dtype="<f8").tobytes()))
            db.executemany("INSERT INTO chunks (series, steps, vals) VALUES (?, ?, ?)", rows)
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

    def __init__(self, meta: dict[str, Any], series: dict[str, tuple[np.ndarray, np.ndarray]],
                 events: list[tuple[int, str, str]]) -> None:
        self.meta = meta
        self.series = series
        self.events = events


def read_store(path: str | os.PathLike[str]) -> StoreContent:
    """Read a store, also while a recorder is writing it. Raises `sqlite3.Error` when it is not one."""
    db = _connect_read_only(Path(path))
    try:
        db.execute("BEGIN")  # one snapshot for all tables
        meta = {}
        for key, value in db.execute("SELECT key, value FROM meta"):
            try:
                meta[key] = json.loads(value)
            except ValueError:
                meta[key] = value
        names = dict(db.execute("SELECT id, name FROM series"))
        parts: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        for sid, steps, vals in db.execute("SELECT series, steps, vals FROM chunks ORDER BY rowid"):
            name = names.get(sid)
            if name is None or len(steps) // 8 != len(vals) // 8:
                continue
            got = parts.setdefault(name, ([], []))
            got[0].append(np.frombuffer(steps, dtype="<i8"))
            got[1].append(np.frombuffer(vals, dtype="<f8"))
        events = [tuple(row) for row in db.execute("SELECT step, kind, message FROM events ORDER BY rowid")]
        db.execute("COMMIT")
    finally:
        db.close()
    series = {name: (np.concatenate(s).astype(np.int64), np.concatenate(v).astype(np.float64))
              for name, (s, v) in parts.items()}
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
