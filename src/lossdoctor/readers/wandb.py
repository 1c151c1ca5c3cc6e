"""Weights & Biases CSV exports: a run's history table, or a chart panel holding several runs.

History export: `_step`, `_runtime`, `_timestamp` and one sparse column per metric.
Chart export: `Step` and, per run, `<run name> - <metric>` plus `__MIN`/`__MAX` band columns (dropped:
they are the panel's smoothing envelope, not logged values).
"""

from __future__ import annotations

import numpy as np

from lossdoctor.errors import LogReadError
from lossdoctor.readers._build import Columns, build_run
from lossdoctor.readers.csv_table import Table
from lossdoctor.run import Run, RunFacts

FORMAT = "wandb_csv"
_SYSTEM = {"_runtime", "_timestamp", "_step"}


def matches(names: list[str]) -> bool:
    return is_chart(names) or "_step" in names or {"_runtime", "_timestamp"} <= set(names)


def is_chart(names: list[str]) -> bool:
    return any(n.lower() == "step" for n in names) and any(" - " in n for n in names)


def _steps(table: Table, name: str | None) -> tuple[np.ndarray, np.ndarray]:
    if name is None:
        return np.arange(table.rows, dtype=np.int64), np.ones(table.rows, dtype=bool)
    values, present = table.column(name)
    ok = present & np.isfinite(values) & (np.abs(values) < 2.0**62)
    return np.where(ok, values, 0).astype(np.int64), ok


def read_all(path: str, table: Table, *, loss_key: str | None = None) -> list[Run]:
    if not is_chart(table.names):
        return [_history(path, table, loss_key)]
    return read_charts(path, [table], loss_key=loss_key)


def read_charts(path: str, tables: list[Table], *, loss_key: str | None = None, files: int = 1) -> list[Run]:
    """The runs of one or more chart exports, each run's metrics gathered from every table (W&B writes one CSV per
    chart: the loss in one, the LR and the validation loss in others)."""
    groups: dict[str, Columns] = {}
    for table in tables:
        step_name = next(n for n in table.names if n.lower() == "step")
        steps, ok = _steps(table, step_name)
        for name in table.names:
            if " - " not in name or name.endswith(("__MIN", "__MAX")):
                continue
            run_name, metric = name.split(" - ", 1)
            values, present = table.column(name)
            keep = present & ok
            if keep.any():
                groups.setdefault(run_name, Columns()).extend(metric, steps[keep], values[keep])
    if not groups:
        raise LogReadError(path, "W&B chart export without values")
    runs = []
    for run_name, cols in groups.items():
        where = f" (one of {len(groups)} runs in the file)" if len(groups) > 1 and files == 1 else \
            f" (from {files} chart exports)" if files > 1 else ""
        facts = RunFacts(notes=[f"W&B chart export; run {run_name!r}{where}"])
        runs.append(build_run(path, FORMAT, cols, facts, loss_key=loss_key))
    return runs


def _history(path: str, table: Table, loss_key: str | None) -> Run:
    step_name = "_step" if "_step" in table.names else None
    steps, ok = _steps(table, step_name)
    cols = Columns()
    sparse = False
    for name in table.names:
        if name in _SYSTEM:
            continue
        values, present = table.column(name)
        keep = present & ok
        if keep.any():
            cols.extend(name, steps[keep], values[keep])
            sparse |= not keep[ok].all()
    # Metrics logged at their own steps leave the other columns empty in a row; say so only when they do.
    facts = RunFacts(notes=["W&B run-history export" + (" (sparse: each metric has its own steps)" if sparse else "")])
    return build_run(path, FORMAT, cols, facts, loss_key=loss_key)
