"""Accumulate scalars while streaming a log, then turn them into a `Run` with canonical names.

Readers only collect `(key, step, value)`; the naming rule (`keys.py`), keep-last de-duplication and
the "no loss" errors live here once, so every format behaves the same.
"""

from __future__ import annotations

import re
from array import array

import numpy as np

from lossdoctor import keys as K
from lossdoctor.errors import LogReadError
from lossdoctor.readers.running_mean import undo_hidden_running_means
from lossdoctor.run import EPOCH, LOSS, LR, VAL_LOSS, Run, RunFacts, Series


class Columns:
    """Per-key growing arrays of steps and values (never a list of dicts: 1M points stay small)."""

    def __init__(self) -> None:
        self._steps: dict[str, array] = {}
        self._values: dict[str, array] = {}

    def _slot(self, key: str) -> tuple[array, array]:
        if key not in self._steps:
            self._steps[key] = array("q")
            self._values[key] = array("d")
        return self._steps[key], self._values[key]

    def add(self, key: str, step: int, value: float) -> None:
        steps, values = self._slot(key)
        steps.append(step)
        values.append(value)

    def extend(self, key: str, steps: np.ndarray, values: np.ndarray) -> None:
        """Append many points at once (fast path for column-wise parsers)."""
        s, v = self._slot(key)
        s.frombytes(np.ascontiguousarray(steps, dtype=np.int64).tobytes())
        v.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())

    def keys(self) -> list[str]:
        return [k for k in self._steps if len(self._steps[k])]

    def get(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        return (np.frombuffer(self._steps[key], dtype=np.int64).copy(),
                np.frombuffer(self._values[key], dtype=np.float64).copy())

    def __len__(self) -> int:
        return len(self.keys())


def keep_last(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Sort by step and keep the last value written for each step (a resumed run rewrites steps)."""
    if len(steps) < 2 or bool(np.all(np.diff(steps) > 0)):
        return steps, values, 0
    _, first_in_reversed = np.unique(steps[::-1], return_index=True)
    keep = len(steps) - 1 - first_in_reversed
    return steps[keep], values[keep], len(steps) - len(keep)


def _rewritten(raw_steps: np.ndarray, raw_values: np.ndarray, steps: np.ndarray, values: np.ndarray) -> int:
    """How many points were written for a step with another value than the one kept for it."""
    kept = values[np.searchsorted(steps, raw_steps)]
    differs = (raw_values != kept) & ~(np.isnan(raw_values) & np.isnan(kept))
    return int(differs.sum())


def _sum_components(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    common = parts[0][0]
    for steps, _ in parts[1:]:
        common = np.intersect1d(common, steps)
    total = np.zeros(len(common))
    for steps, values in parts:
        total += values[np.searchsorted(steps, common)]
    return common, total


def shown(name: str) -> str:
    """A key as it can appear in a one-line message."""
    return name if name.isprintable() and name.strip() == name and name else repr(name)


def listing(names: list[str], limit: int = 25) -> str:
    """Keys for an error message: one line, at most `limit` of them."""
    shown_names = ", ".join(shown(n) for n in names[:limit])
    more = f" … (+{len(names) - limit} more)" if len(names) > limit else ""
    return shown_names + more if names else "none"


def optimizer_from_lr_key(key: str) -> str | None:
    """The optimizer's class name from a Lightning `LearningRateMonitor` key (`lr-AdamW`, `lr-SGD/pg1`)."""
    match = re.fullmatch(r"(?:.*/)?lr-([A-Za-z][A-Za-z0-9_]*)(?:/pg\d+)?", key)
    return match.group(1) if match else None


#: Columns of a one-series export that are not the series itself: its clock and its counters.
_EXPORT_CLOCKS = {"wall_time", "walltime", "time", "timestamp", "relative", "relative_time_process"}
#: What an export calls the values of the one series it holds.
_UNNAMED = {"value", "values", "y"}


def _lone_unnamed_series(names: list[str]) -> str | None:
    """The `Value` column of a one-series export (TensorBoard's CSV: `Wall time,Step,Value`), else None."""
    rest = [n for n in names if K.normalise(n) not in _EXPORT_CLOCKS and K.alias_rank(EPOCH, n) is None]
    return rest[0] if len(rest) == 1 and K.normalise(rest[0]) in _UNNAMED else None


def build_run(path: str, fmt: str, cols: Columns, facts: RunFacts | None = None, *,
              loss_key: str | None = None) -> Run:
    """Name the collected series by the `keys.py` rule and check that a loss is there."""
    facts = facts or RunFacts()
    names = cols.keys()
    if not names:
        raise LogReadError(path, "no numeric values found in the log")
    chosen_loss = None
    if loss_key is not None:
        chosen_loss = K.find_key(names, loss_key)
        if chosen_loss is None:
            raise LogReadError(path, f"--loss-key {loss_key!r} is not in this log; available keys: "
                               f"{listing(names)}")
    mapping = K.assign(names, loss_key=chosen_loss)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    dropped: dict[str, int] = {}
    for key in names:
        raw_steps, raw_values = cols.get(key)
        steps, values, n = keep_last(raw_steps, raw_values)
        if n and K.alias_rank(EPOCH, key) is None:  # epoch marks repeat on val/epoch-end rows
            # the same value written again (an LR logged per micro-batch, a redrawn progress bar) is no rewrite
            n = _rewritten(raw_steps, raw_values, steps, values)
            if n:
                dropped[key] = n
        data[key] = (steps, values)
    if dropped:
        facts.notes.append(f"{sum(dropped.values())} points logged twice for the same step (a resumed "
                           f"run?) in {', '.join(list(dropped)[:5])}; kept the last value written")

    derived: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for canonical, val in ((LOSS, False), (VAL_LOSS, True)):
        if canonical in mapping:
            continue
        parts = [k for k in K.loss_components(names, val=val) if k not in mapping.values()]
        if len(parts) >= 2:
            derived[canonical] = _sum_components([data[k] for k in parts])
            facts.notes.append(f"{canonical} is the sum of the loss components {', '.join(parts)} "
                               "(the total the model optimises)")
        elif canonical == LOSS:
            key = K.fallback_loss_key([k for k in names if k not in mapping.values()])
            if key is not None:
                mapping[LOSS] = key
                facts.notes.append(f"no standard loss key; using {key!r} as the training loss")
        else:
            key = K.fallback_val_loss_key([k for k in names if k not in mapping.values()], mapping.get(LOSS))
            if key is not None:
                mapping[VAL_LOSS] = key
                facts.notes.append(f"no standard validation-loss key; using {key!r} as the validation loss")
    if LOSS not in mapping and LOSS not in derived:
        unnamed = _lone_unnamed_series(names)
        if unnamed is None:
            raise LogReadError(path, f"no loss series found; keys present: {listing(names)} (pass --loss-key NAME, "
                               "or loss_key= to read(), to diagnose one of them)")
        mapping[LOSS] = unnamed
        facts.notes.append(f"the log holds one series, {unnamed!r}, without a metric name (a TensorBoard or "
                           "MLflow export): read as the training loss")

    if facts.optimizer is None and LR in mapping:
        facts.optimizer = optimizer_from_lr_key(mapping[LR])
    series: dict[str, Series] = {}
    by_key = {key: canonical for canonical, key in mapping.items()}
    for key in names:
        name = by_key.get(key, key)
        if name == key and key in mapping and mapping[key] != key:
            name = f"{key}_orig"  # its name is canonical but another key provides that series
            facts.notes.append(f"{key!r} renamed {name!r}: {mapping[key]!r} provides {key!r}")
        series[name] = Series(*data[key])
    for name, (steps, values) in derived.items():
        series[name] = Series(steps, values)
    if not len(series[LOSS]):
        raise LogReadError(path, "the loss series is empty")
    undo_hidden_running_means(series, facts)
    return Run(series=series, facts=facts, path=path, format=fmt)
