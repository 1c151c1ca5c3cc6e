"""Lightning `CSVLogger` `metrics.csv`: step rows, validation rows and epoch-end rows interleaved.

Each row logs only some columns (others are empty). A `*_step` value is the value of one step, sampled
every `log_every_n_steps` steps, not a mean over them.
"""

from __future__ import annotations

import numpy as np

from lossdoctor.readers._build import Columns, build_run
from lossdoctor.readers.csv_table import Table
from lossdoctor.run import Run, RunFacts

FORMAT = "lightning_csv"


def matches(names: list[str]) -> bool:
    return "epoch" in names and "step" in names


def read(path: str, table: Table, *, loss_key: str | None = None) -> Run:
    steps_f, has_step = table.column("step")
    epochs, has_epoch = table.column("epoch")
    ok = has_step & np.isfinite(steps_f) & (np.abs(steps_f) < 2.0**62)
    steps = np.where(ok, steps_f, 0).astype(np.int64)
    cols = Columns()
    for name in table.names:
        if name == "step":
            continue
        values, present = table.column(name)
        keep = present & ok
        if name == "epoch":
            keep &= np.isfinite(values)
        if keep.any():
            cols.extend(name, steps[keep], values[keep])
    facts = RunFacts(framework="lightning")
    facts.steps_per_epoch = steps_per_epoch(steps[ok & has_epoch], epochs[ok & has_epoch])
    run = build_run(path, FORMAT, cols, facts, loss_key=loss_key)
    loss = run.loss
    every = int(np.median(np.diff(loss.steps))) if len(loss) >= 3 else 1
    if every > 1:
        facts.notes.append(f"Lightning logs one step's value every log_every_n_steps steps (here every "
                           f"{every}); each point is a sample, not a mean over those steps")
    return run


def steps_per_epoch(steps: np.ndarray, epochs: np.ndarray) -> float | None:
    """From the last step of each finished epoch (the steps where `epoch` changes)."""
    finite = np.isfinite(epochs)
    steps, epochs = steps[finite], epochs[finite]
    if not len(steps):
        return None
    labels, which = np.unique(epochs, return_inverse=True)
    if len(labels) < 2:
        return None
    ends = np.full(len(labels), np.iinfo(np.int64).min)
    np.maximum.at(ends, which, steps)
    ends = ends[:-1]  # the last epoch may be partial
    if len(ends) >= 2:
        gaps = np.diff(ends)[np.diff(labels[:-1]) == 1]
        if len(gaps):
            return float(np.median(gaps))
    if labels[0] == 0:
        return float(ends[0] + 1)
    return None
