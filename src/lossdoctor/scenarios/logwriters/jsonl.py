"""JSON lines as a hand-written PyTorch loop logs them: one object per step, one per evaluation.

Fields the run did not record (NaN lr or grad norm, batch size 0) are left out of the row.
"""

from __future__ import annotations

import json
from pathlib import Path

from lossdoctor.scenarios.logwriters._common import evals_by_step, has_grad_norm, known, logged_steps
from lossdoctor.scenarios.records import TrainLog


def write(log: TrainLog, out_dir: Path, log_every: int = 1, filename: str = "metrics.jsonl") -> Path:
    path = Path(out_dir) / filename
    evals = evals_by_step(log)
    with_grad = has_grad_norm(log)
    logged = {r.step: r for r in logged_steps(log, log_every)}
    with path.open("w") as f:
        for r in log.steps:
            if r.step in logged:
                row: dict[str, float | int] = {"step": r.step, "epoch": r.epoch, "loss": r.loss}
                if known(r.lr):
                    row["lr"] = r.lr
                if r.batch_size > 0:
                    row["batch_size"] = r.batch_size
                if with_grad:
                    row["grad_norm"] = r.grad_norm
                f.write(json.dumps(row) + "\n")
            if r.step in evals:
                f.write(json.dumps({"step": r.step, "val_loss": evals[r.step].val_loss}) + "\n")
    return path
