"""Loss histories saved as bare JSON lists: `json.dump(losses, f)`, or Keras's `history.history` dict.

The commonest way a beginner keeps a loss history is a plain list of floats, one per step (or per epoch, or
every N batches: the file cannot say which). Keras's `model.fit(...).history` is a dict of per-epoch lists
(`{"loss": [...], "val_loss": [...]}`). Both are read with the list index as the step; a validation list
shorter than the loss list, whose length divides it, is placed at the end of each stretch it closes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lossdoctor import keys as K
from lossdoctor.readers._build import Columns, build_run
from lossdoctor.run import Run, RunFacts

FORMAT = "json"


def _number(item: Any) -> float | None:
    """A JSON number (or the strings Python's json writes for non-finite floats), else None."""
    if isinstance(item, bool):
        return None
    if isinstance(item, int | float):
        return float(item)
    if isinstance(item, str) and item.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return float(item)
    return None


def numbers(items: list) -> np.ndarray | None:
    """The list as floats when every item is a number (None is a missing value), else None."""
    if not items:
        return None
    values = [math.nan if item is None else _number(item) for item in items]
    if any(v is None for v in values):
        return None
    return np.asarray(values, dtype=np.float64)


def is_series_dict(doc: dict) -> bool:
    """A dict whose values are all lists of numbers (Keras `history.history`, `{"train_loss": [...]}`)."""
    return bool(doc) and all(isinstance(v, list) and numbers(v) is not None for v in doc.values())


def read_list(path: str, items: list, *, loss_key: str | None = None) -> Run:
    """A bare list of numbers: the loss at each index."""
    values = numbers(items)
    assert values is not None
    cols = Columns()
    cols.extend("loss", np.arange(len(values)), values)
    run = build_run(path, FORMAT, cols, RunFacts(), loss_key=loss_key)
    run.facts.notes.append("a bare JSON list of numbers, read as the training loss with the list index as the step"
                           " (the file does not say whether an item is a step, a few batches or an epoch)")
    return run


def read_dict(path: str, doc: dict, *, loss_key: str | None = None) -> Run:
    """A dict of lists: each list a series over its index, validation lists spread over the loss's span."""
    lists = {key: numbers(value) for key, value in doc.items()}
    longest = max(len(v) for v in lists.values() if v is not None)
    cols = Columns()
    facts = RunFacts()
    spread = False
    for key, values in lists.items():
        assert values is not None
        index = np.arange(len(values))
        if len(values) < longest and longest % len(values) == 0:
            index = (index + 1) * (longest // len(values)) - 1  # each value closes a stretch of the longer lists
            spread = True
        cols.extend(key, index, values)
    val_same_length = any(K.is_val_like(k) and len(v) == longest for k, v in lists.items() if v is not None)
    if val_same_length and longest <= 10_000:
        facts.step_unit = "epoch"  # a validation value at every index: one per epoch, as in Keras's history
    run = build_run(path, FORMAT, cols, facts, loss_key=loss_key)
    run.facts.notes.append(
        "a JSON dict of lists, read with the list index as the step"
        + ("; a validation value at every index: one point per epoch (Keras's history.history)"
           if run.facts.step_unit == "epoch" else "")
        + ("; shorter lists placed at the end of each stretch of the longest" if spread else ""))
    return run
