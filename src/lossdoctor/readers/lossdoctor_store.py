"""lossdoctor's own run store (`lossdoctor.db`, written by `lossdoctor.watch`): SQLite, read without torch.

Live recordings carry what logs lack (actual batch size, pre-clip gradient norm, update/weight ratio,
train/eval mode, Adam's state), plus the facts the recorder saw (loader length, drop_last, optimizer).
The store can be read while the recorder is still writing it: the reader sees every committed flush.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from lossdoctor.errors import LogReadError
from lossdoctor.readers._build import Columns, build_run
from lossdoctor.record.store import SQLITE_MAGIC, read_store
from lossdoctor.run import Run, RunFacts

FORMAT = "lossdoctor_store"


def looks_like(data: bytes) -> bool:
    return data.startswith(SQLITE_MAGIC)


def read(name: str, path: Path, *, loss_key: str | None = None) -> Run:
    try:
        content = read_store(path)
    except sqlite3.DatabaseError as e:
        if "no such table" in str(e):
            raise LogReadError(name, "an SQLite database, but not a lossdoctor run store (no chunks table)") \
                from None
        raise LogReadError(name, f"cannot read the run store: {e}") from None
    if not content.series:
        raise LogReadError(name, "the run store holds no steps yet (the recorder flushes every few steps)")
    cols = Columns()
    for key, (steps, values) in content.series.items():
        cols.extend(key, np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64))
    run = build_run(name, FORMAT, cols, _facts(content.meta, content.events), loss_key=loss_key)
    return run


def _facts(meta: dict[str, Any], events: list[tuple[int, str, str]]) -> RunFacts:
    facts = RunFacts(framework=_text(meta.get("framework")), optimizer=_text(meta.get("optimizer")),
                     batch_size=_whole(meta.get("batch_size")), dataset_size=_whole(meta.get("dataset_size")))
    spe = meta.get("steps_per_epoch")
    if isinstance(spe, int | float) and not isinstance(spe, bool) and math.isfinite(spe) and spe > 0:
        facts.steps_per_epoch = float(spe)
    if isinstance(meta.get("drop_last"), bool):
        facts.drop_last = meta["drop_last"]
    world = meta.get("world_size")
    facts.notes.append("recorded live by lossdoctor" + (f" on {world} ranks (rank 0's store; losses are "
                                                         "averaged over ranks)" if world and world > 1 else ""))
    if "finished" not in meta:
        facts.notes.append("the recording has not finished: the run is still going, or it stopped without "
                           "closing the recorder (a crash); everything up to the last flush is here")
    if isinstance(meta.get("grad_norm"), str):
        facts.notes.append(f"grad_norm: {meta['grad_norm']}")
    if meta.get("dropped_points"):
        facts.notes.append(f"{meta['dropped_points']} points were dropped while the store could not be written")
    facts.notes += [f"live warning at step {step} ({kind}): {message}" for step, kind, message in events]
    return facts


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
