"""Keras `CSVLogger` files (one row per epoch) and per-batch CSVs written from `on_train_batch_end`.

Per epoch, each `loss` is the mean over the epoch's batches, so spikes inside an epoch are invisible.
Per batch, Keras logs the *running mean since the epoch began*; differencing recovers each batch's own
value: with n batches seen, x_n = n·m_n − (n−1)·m_{n−1}.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from lossdoctor.errors import LogReadError
from lossdoctor.readers._build import Columns, build_run
from lossdoctor.readers.csv_table import Table
from lossdoctor.readers.running_mean import difference, running_mean_verdict
from lossdoctor.run import Run, RunFacts

FORMAT = "keras_csv"
BATCH_FORMAT = "keras_batch_csv"
_STEP_NAMES = {"step", "global_step", "iteration", "iter", "it", "n_iter", "num_updates", "_step", "steps"}


def matches_epoch_log(names: list[str]) -> bool:
    """`epoch` first (CSVLogger), or AUTOTRAINER/DeepFD `log.csv`: `loss` + `val_*`, no counter column."""
    lowered = [n.lower() for n in names]
    if _STEP_NAMES & set(lowered) or "batch" in lowered:
        return False
    if lowered and lowered[0] == "epoch":
        return any("loss" in n for n in lowered)
    return "epoch" not in lowered and "loss" in lowered and any(n.startswith("val_") for n in lowered)


def matches_batch_log(names: list[str]) -> bool:
    lowered = {n.lower() for n in names}
    return "epoch" in lowered and "batch" in lowered


def read_all(path: str, table: Table, *, loss_key: str | None = None) -> list[Run]:
    """One Run per training run in the file (CSVLogger(append=True) concatenates runs)."""
    epoch_name = next((n for n in table.names if n.lower() == "epoch"), None)
    rows = np.arange(table.rows)
    if epoch_name is None:
        epochs = rows.astype(np.float64)
        note = "no epoch column (AUTOTRAINER/DeepFD monitor log); the row index is taken as the epoch"
    else:
        values, present = table.column(epoch_name)
        epochs = np.where(present & np.isfinite(values), values, np.nan)
        note = None
    finite = np.isfinite(epochs)
    rows, epochs = rows[finite], epochs[finite]
    restarts = np.flatnonzero(np.diff(epochs) <= 0) + 1
    runs = []
    bounds = [0, *restarts.tolist(), len(rows)]
    for start, stop in pairwise(bounds):
        cols = Columns()
        idx = rows[start:stop]
        steps = epochs[start:stop].astype(np.int64)
        for name in table.names:
            if name == epoch_name:
                continue
            values, present = table.column(name)
            keep = present[idx]
            if keep.any():
                cols.extend(name, steps[keep], values[idx][keep])
        facts = RunFacts(framework="keras", step_unit="epoch", steps_per_epoch=1.0)
        facts.notes.append("one point per epoch: each loss is the mean over that epoch's batches, "
                           "so spikes within an epoch are invisible")
        if note:
            facts.notes.append(note)
        runs.append(build_run(path, FORMAT, cols, facts, loss_key=loss_key))
    if len(runs) > 1:
        for i, run in enumerate(runs, 1):
            run.facts.notes.append(f"run {i} of {len(runs)} in this file (the epoch count restarts; "
                                   "CSVLogger(append=True) appended several runs)")
    return runs


def _add_epoch_rows(table: Table, names: dict[str, str], rows: np.ndarray, epochs: np.ndarray, steps: np.ndarray,
                    cols: Columns) -> None:
    """Rows with an epoch but no batch number hold what a callback logs once per epoch (`val_loss` from
    `on_epoch_end`): each value goes to the last batch of its epoch."""
    epoch_v, epoch_p = table.column(names["epoch"])
    _, batch_p = table.column(names["batch"])
    extra = np.flatnonzero(epoch_p & ~batch_p & np.isfinite(epoch_v))
    if not len(extra):
        return
    last_step = {float(e): int(steps[epochs == e].max()) for e in np.unique(epochs)}
    placed = np.array([last_step.get(float(epoch_v[i]), -1) for i in extra])
    for name in table.names:
        if name in (names["epoch"], names["batch"]) or name.lower() in _STEP_NAMES:
            continue
        values, present = table.column(name)
        keep = present[extra] & np.isfinite(values[extra]) & (placed >= 0)
        if keep.any() and not present[rows].any():
            cols.extend(name, placed[keep], values[extra][keep])


def read_batches(path: str, table: Table, *, loss_key: str | None = None,
                 counters: tuple[str, str] | None = None) -> Run:
    """Per-batch rows: global step = running count of batches; losses differenced per batch.

    `counters` names the epoch column and the batch counter that restarts with each epoch, when they are not
    called `epoch` and `batch` (`ep,it,mse`).
    """
    lowered = {n.lower(): n for n in table.names}
    epoch_name, batch_name = counters or (lowered["epoch"], lowered["batch"])
    names = {"epoch": epoch_name, "batch": batch_name}
    epoch_v, epoch_p = table.column(names["epoch"])
    batch_v, batch_p = table.column(names["batch"])
    ok = epoch_p & batch_p & np.isfinite(epoch_v) & np.isfinite(batch_v) & (np.abs(batch_v) < 2**40)
    rows = np.flatnonzero(ok)
    if not len(rows):
        raise LogReadError(path, "per-batch CSV without rows that have both an epoch and a batch number")
    epochs, batches = epoch_v[rows], batch_v[rows].astype(np.int64)
    new_epoch = np.ones(len(rows), dtype=bool)
    new_epoch[1:] = (epochs[1:] != epochs[:-1]) | (batches[1:] <= batches[:-1])
    starts = np.flatnonzero(new_epoch)
    counts = np.empty(len(rows), dtype=np.int64)  # n: batches seen so far in this epoch
    offsets = np.zeros(len(rows), dtype=np.int64)
    total, sizes = 0, []
    # Keras passes a 0-based batch index; a callback that counts from 1 never logs batch 0.
    base = 1 if len(rows) and not (batches == 0).any() and (batches[starts] == 1).all() else 0
    for a, b in zip(starts, [*starts[1:].tolist(), len(rows)], strict=True):
        counts[a:b] = batches[a:b] + 1 - base
        offsets[a:b] = total
        size = int(counts[b - 1])
        sizes.append(size)
        total += size
    steps = offsets + counts - 1
    cols = Columns()
    cols.extend("epoch", steps, epochs)  # where each epoch starts, for the checks and the report
    differenced, plain = [], []
    for name in table.names:
        if name in (names["epoch"], names["batch"]) or name.lower() in _STEP_NAMES:
            continue  # a step column of its own counts the same batches
        values, present = table.column(name)
        vals, keep = values[rows], present[rows]
        if "loss" in name.lower() and keep.all():
            if running_mean_verdict(vals, counts, new_epoch) is False:
                plain.append(name)  # a loop's own per-batch values: nothing to undo
            else:
                cols.extend(f"{name}_running_mean", steps, vals)
                vals = difference(vals, counts, new_epoch)
                differenced.append(name)
        if keep.any():
            cols.extend(name, steps[keep], vals[keep])
    _add_epoch_rows(table, names, rows, epochs, steps, cols)
    facts = RunFacts(framework="keras" if differenced else None)
    if len(sizes) >= 2:
        facts.steps_per_epoch = float(np.median(sizes[:-1]))
    if differenced:
        facts.notes.append(f"Keras logs per-batch {', '.join(differenced)} as the running mean since the "
                           "epoch began; recovered each batch's value by differencing "
                           "((n·m_n − k·m_k)/(n − k) between rows after batches k and n, k = n − 1 when every batch "
                           "is logged); the raw running means are kept as *_running_mean")
    if plain:
        facts.notes.append(f"per-batch {', '.join(plain)} read as each batch's own value: its consecutive changes "
                           "are anticorrelated, as raw values' are and a running mean's are not")
    return build_run(path, BATCH_FORMAT if differenced else "csv", cols, facts, loss_key=loss_key)
