"""A W&B run-history CSV export: one row per `wandb.log` step, empty cells for unlogged metrics."""

from __future__ import annotations

import csv
from pathlib import Path

from lossdoctor.scenarios.logwriters._common import evals_by_step, fmt_csv, has_grad_norm, has_lr, known, logged_steps
from lossdoctor.scenarios.records import TrainLog

START_TIME = 1_700_000_000.0  # a fixed wall clock keeps the file deterministic


def write(log: TrainLog, out_dir: Path, log_every: int = 1, filename: str = "wandb_history.csv") -> Path:
    """`_step` is the global step; validation is logged with the step that preceded it.

    Columns for metrics never logged (no LR recorded, no evaluation) are left out, as in a real export.
    """
    path = Path(out_dir) / filename
    evals = evals_by_step(log)
    logged = {r.step for r in logged_steps(log, log_every)}
    per_step = log.runtime_s / max(len(log.steps), 1)
    with_lr, with_val = has_lr(log), bool(log.evals)
    # HF's W&B integration logs a fractional `train/epoch` with every training row.
    header = ["_step", "_runtime", "_timestamp", "train/epoch", "train/loss"]
    with_grad = has_grad_norm(log)
    header += (["train/lr"] if with_lr else []) + (["train/grad_norm"] if with_grad else [])
    header += ["val/loss"] if with_val else []
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for r in log.steps:
            if r.step not in logged and r.step not in evals:
                continue
            runtime = round((r.step + 1) * per_step, 6)
            train = r.step in logged
            val = evals[r.step].val_loss if r.step in evals else None
            row = [str(r.step), fmt_csv(runtime), fmt_csv(round(START_TIME + runtime, 6))]
            epoch = round((r.step + 1) / log.steps_per_epoch, 4) if train else None
            row.append(fmt_csv(epoch))
            row.append(fmt_csv(r.loss if train else None))
            if with_lr:
                row.append(fmt_csv(r.lr if train and known(r.lr) else None))
            if with_grad:
                row.append(fmt_csv(r.grad_norm if train else None))
            if with_val:
                row.append(fmt_csv(val))
            writer.writerow(row)
    return path
