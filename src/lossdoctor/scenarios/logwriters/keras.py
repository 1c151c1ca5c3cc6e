"""Keras logs: the `CSVLogger` epoch file and a per-batch CSV written from `on_train_batch_end`.

Keras tracks the train loss as a running mean since the epoch began, weighted by batch size; the
per-batch file therefore holds that running mean, not the batch's own loss, and the epoch file the
epoch's weighted mean. Values are float32 read back as Python floats; `csv` writes CRLF line ends.
"""

from __future__ import annotations

import csv
from pathlib import Path

from lossdoctor.scenarios.logwriters._common import evals_by_step, f32, fmt_csv, has_lr, known, logged_steps
from lossdoctor.scenarios.records import TrainLog


def running_means(log: TrainLog) -> list[float]:
    """Keras's reported loss after each step: the batch-size-weighted mean since the epoch began."""
    out: list[float] = []
    total = weight = 0.0
    for r in log.steps:
        if r.batch == 0:
            total = weight = 0.0
        size = r.batch_size if r.batch_size > 0 else 1  # size unknown: weigh batches alike
        total += r.loss * size
        weight += size
        out.append(total / weight)
    return out


def write_epoch(log: TrainLog, out_dir: Path, filename: str = "training.log") -> Path:
    """`epoch[,learning_rate],loss[,val_loss]`, one row per epoch (validation at epoch end only).

    `learning_rate` appears only when the run recorded an LR, `val_loss` only when it evaluated.
    """
    path = Path(out_dir) / "keras" / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    means = running_means(log)
    evals = evals_by_step(log)
    has_val = bool(log.evals)
    with_lr = has_lr(log)
    header = ["epoch"] + (["learning_rate"] if with_lr else []) + ["loss"] + (["val_loss"] if has_val else [])
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for r in log.steps:
            if r.batch != log.steps_per_epoch - 1:
                continue
            row = [str(r.epoch)]
            if with_lr:
                row.append(fmt_csv(f32(r.lr)) if known(r.lr) else "")
            row.append(fmt_csv(f32(means[r.step])))
            if has_val:
                row.append(fmt_csv(f32(evals[r.step].val_loss)) if r.step in evals else "NA")
            writer.writerow(row)
    return path


def write_batch(log: TrainLog, out_dir: Path, log_every: int = 1, filename: str = "batch_log.csv") -> Path:
    """`epoch,batch,loss` with the running mean, as a callback copying `logs` would write it."""
    path = Path(out_dir) / "keras" / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    means = running_means(log)
    logged = {r.step for r in logged_steps(log, log_every)}
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "batch", "loss"])
        for r in log.steps:
            if r.step in logged:
                writer.writerow([r.epoch, r.batch, fmt_csv(f32(means[r.step]))])
    return path
