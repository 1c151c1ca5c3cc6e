"""A Lightning `CSVLogger` `metrics.csv` (with `LearningRateMonitor`), laid out as Lightning 2.x does.

Each `log_metrics` call is its own row and the header is the sorted union of keys, so an LR row
(`lr-SGD`, `step`; no `epoch`, logged at batch start) precedes the train row of the same step and
every other cell is empty. Steps are Lightning's 0-based global batch index; rows come every
`log_every_n_steps` global steps ((step + 1) % n == 0, as in the wild logs: 49, 99, ...). Validation
rows sit at the step of the last train batch before them. `self.log` of a tensor gives float32
values. Lines end in CRLF, `csv.DictWriter`'s default.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from lossdoctor.scenarios.logwriters._common import evals_by_step, f32, known, logged_steps
from lossdoctor.scenarios.records import TrainLog


def write(log: TrainLog, out_dir: Path, log_every_n_steps: int = 1, version: int = 0) -> Path:
    run_dir = Path(out_dir) / "lightning_logs" / f"version_{version}"
    run_dir.mkdir(parents=True, exist_ok=True)
    lr_key = f"lr-{log.optimizer}"
    evals = evals_by_step(log)
    logged = {r.step for r in logged_steps(log, log_every_n_steps)}
    rows: list[dict[str, Any]] = []
    for r in log.steps:
        if r.step in logged:
            if known(r.lr):  # no LearningRateMonitor, no LR rows
                rows.append({lr_key: r.lr, "step": r.step})
            rows.append({"epoch": r.epoch, "step": r.step, "train_loss": f32(r.loss)})
        if r.step in evals:
            rows.append({"epoch": r.epoch, "step": r.step, "val_loss": f32(evals[r.step].val_loss)})
    keys = sorted({k for row in rows for k in row})
    path = run_dir / "metrics.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    (run_dir / "hparams.yaml").write_text(f"batch_size: {log.batch_size}\n")
    return path
