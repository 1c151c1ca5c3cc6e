"""Log readers: `read(path)` detects the format from the content and returns a `Run`.

Formats: hf_trainer_state, lightning_csv, keras_csv, keras_batch_csv, yolo_csv, csv, jsonl,
tensorboard, text, wandb_csv, lossdoctor_store (the live recorder's SQLite store). Every failure is a
`LogReadError` with a one-line reason.
"""

from __future__ import annotations

import os
from pathlib import Path

from lossdoctor.errors import LogReadError
from lossdoctor.readers.dispatch import read_all_file
from lossdoctor.readers.folder import read_folder
from lossdoctor.run import Run

__all__ = ["FORMATS", "read", "read_all"]

FORMATS = ("hf_trainer_state", "lightning_csv", "keras_csv", "keras_batch_csv", "yolo_csv", "csv", "jsonl",
           "tensorboard", "text", "wandb_csv", "lossdoctor_store")


def read_all(path: str | os.PathLike[str], *, loss_key: str | None = None) -> list[Run]:
    """Every run a log holds (a Keras CSV appended by several runs, a W&B chart of several runs)."""
    name = os.fspath(path)
    target = Path(name)
    try:
        if target.is_dir():
            runs = [read_folder(name, target, loss_key=loss_key)]
        elif not target.exists():
            raise LogReadError(name, "no such file or directory")
        else:
            runs = read_all_file(name, target, loss_key=loss_key)
    except LogReadError:
        raise
    except (OSError, MemoryError, RecursionError, ValueError, OverflowError) as e:
        raise LogReadError(name, f"cannot read: {type(e).__name__}: {e}") from None
    from lossdoctor.guard.log import attach_guard_log

    for run in runs:
        run.path = name
        attach_guard_log(run, target)
    return runs


def read(path: str | os.PathLike[str], *, loss_key: str | None = None) -> Run:
    """The run a log holds; for a file with several runs, the last one (a note says how many)."""
    runs = read_all(path, loss_key=loss_key)
    run = runs[-1]
    if len(runs) > 1:
        run.facts.notes.append(f"this file holds {len(runs)} runs; read the last one (use read_all for all)")
    return run
