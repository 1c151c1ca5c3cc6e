"""YOLOv5/Ultralytics `results.csv`: one space-padded row per epoch.

There is no total-loss column: YOLO optimises the sum of `train/box_loss`, `train/obj_loss` and
`train/cls_loss` (`dfl_loss` in v8), so the loss is that sum (done by the `keys.py` component rule).
"""

from __future__ import annotations

import numpy as np

from lossdoctor.readers._build import Columns, build_run
from lossdoctor.readers.csv_table import Table
from lossdoctor.run import Run, RunFacts

FORMAT = "yolo_csv"
_MARKERS = {"train/box_loss", "train/obj_loss", "train/cls_loss", "train/dfl_loss", "metrics/map_0.5",
            "metrics/map50(b)", "x/lr0", "lr/pg0"}


def matches(names: list[str]) -> bool:
    return len(_MARKERS & {n.lower() for n in names}) >= 2


def read(path: str, table: Table, *, loss_key: str | None = None) -> Run:
    epoch_name = next((n for n in table.names if n.lower() == "epoch"), None)
    if epoch_name is not None:
        values, present = table.column(epoch_name)
        ok = present & np.isfinite(values) & (np.abs(values) < 2**40)
        steps = np.where(ok, values, 0).astype(np.int64)
    else:
        ok = np.ones(table.rows, dtype=bool)
        steps = np.arange(table.rows, dtype=np.int64)
    cols = Columns()
    for name in table.names:
        if name == epoch_name:
            continue
        values, present = table.column(name)
        keep = present & ok
        if keep.any():
            cols.extend(name, steps[keep], values[keep])
    facts = RunFacts(framework="ultralytics", step_unit="epoch", steps_per_epoch=1.0)
    facts.notes.append("one row per epoch: each loss is the epoch mean, so spikes within an epoch "
                       "are invisible")
    return build_run(path, FORMAT, cols, facts, loss_key=loss_key)
