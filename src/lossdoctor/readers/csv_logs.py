"""CSV logs: recognise the writer from the header, then hand the parsed table to its reader."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from lossdoctor.errors import LogReadError
from lossdoctor.readers import keras, lightning, wandb, yolo
from lossdoctor.readers._build import Columns, build_run
from lossdoctor.readers.csv_table import Table, parse
from lossdoctor.run import Run, RunFacts

FORMAT = "csv"
#: Step-like columns of a generic CSV, best first; `epoch` makes the steps count epochs.
STEP_COLUMNS = ("step", "global_step", "steps", "iteration", "iter", "it", "n_iter", "num_updates", "_step",
                "micro_step", "microstep", "micro", "update", "updates", "optimizer_step", "opt_step", "batch",
                "epoch", "ep", "epochs")
#: Epoch counters: a step column only when each row is one epoch (strictly increasing).
EPOCH_COLUMNS = {"epoch", "ep", "epochs"}


def read_all(path: str, blocks: Iterable[list[str]], *, loss_key: str | None = None) -> list[Run]:
    table = parse(blocks)
    if not table.rows:
        raise LogReadError(path, "CSV header without data rows")
    names = table.names
    if wandb.matches(names):
        return wandb.read_all(path, table, loss_key=loss_key)
    if yolo.matches(names):
        return [yolo.read(path, table, loss_key=loss_key)]
    # epoch + batch (a per-batch callback, Keras' or one's own) before Lightning's epoch + step: a batch index
    # that restarts every epoch is what tells a running mean since the epoch began from raw values
    if keras.matches_batch_log(names):
        return [keras.read_batches(path, table, loss_key=loss_key)]
    if lightning.matches(names):
        return [lightning.read(path, table, loss_key=loss_key)]
    if keras.matches_epoch_log(names):
        return keras.read_all(path, table, loss_key=loss_key)
    counters = _epoch_and_counter_within(table)
    if counters is not None:
        return [keras.read_batches(path, table, loss_key=loss_key, counters=counters)]
    return [read_generic(path, table, loss_key=loss_key)]


def _epoch_and_counter_within(table: Table) -> tuple[str, str] | None:
    """An epoch column and a step-like counter that restarts whenever the epoch moves on (`ep,it,mse`): the
    counter numbers batches within the epoch, not steps, and taking it for the step would fold every epoch
    onto the first one's steps."""
    lowered = {n.lower().strip(): n for n in table.names}
    epoch_name = next((lowered[e] for e in ("epoch", "ep", "epochs") if e in lowered), None)
    if epoch_name is None:
        return None
    epoch_v, epoch_p = table.column(epoch_name)
    for key in STEP_COLUMNS:
        if key in EPOCH_COLUMNS or key not in lowered:
            continue
        counter_v, counter_p = table.column(lowered[key])
        both = epoch_p & counter_p & np.isfinite(epoch_v) & np.isfinite(counter_v)
        epochs, counter = epoch_v[both], counter_v[both]
        if len(counter) < 4:
            continue
        falls, moves = np.diff(counter) < 0, np.diff(epochs) != 0
        if falls.sum() >= 2 and np.array_equal(falls, moves & falls) and moves.sum() == falls.sum():
            return epoch_name, lowered[key]
    return None


def read_generic(path: str, table: Table, *, loss_key: str | None = None) -> Run:
    """Any CSV with a loss-like column; steps from a step-like column, else the row index."""
    lowered = {n.lower().strip(): n for n in table.names}
    candidates = [lowered[s] for s in STEP_COLUMNS if s in lowered
                  and table.has_values(lowered[s]) and lowered[s] != loss_key
                  and (s not in EPOCH_COLUMNS or _one_row_per_value(table, lowered[s]))]
    # a counter that moves on every row (micro-batches) before one that repeats (optimizer updates under
    # gradient accumulation), which would put several rows on one step
    step_name = next((c for c in candidates if _one_row_per_value(table, c)), candidates[0] if candidates else None)
    facts = RunFacts()
    if step_name is None:
        steps, ok = np.arange(table.rows, dtype=np.int64), np.ones(table.rows, dtype=bool)
        facts.notes.append("no step column; steps number the rows")
    else:
        values, present = table.column(step_name)
        ok = present & np.isfinite(values) & (np.abs(values) < 2.0**62)
        steps = np.where(ok, values, 0).astype(np.int64)
        if step_name.lower().strip() in EPOCH_COLUMNS:
            facts.step_unit = "epoch"
    cols = Columns()
    for name in table.names:
        if name == step_name:
            continue
        values, present = table.column(name)
        keep = present & ok
        if keep.any():
            cols.extend(name, steps[keep], values[keep])
    return build_run(path, FORMAT, cols, facts, loss_key=loss_key)


def _one_row_per_value(table: Table, name: str) -> bool:
    """Whether the column strictly increases row by row (one row per value, not a label repeated over rows)."""
    values, present = table.column(name)
    values = values[present & np.isfinite(values)]
    return len(values) >= 2 and bool(np.all(np.diff(values) > 0))
