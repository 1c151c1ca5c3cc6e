"""Console lines like a tutorial-style PyTorch loop prints (epochs and batches counted from 1)."""

from __future__ import annotations

from pathlib import Path

from lossdoctor.scenarios.logwriters._common import evals_by_step, has_grad_norm, known, logged_steps
from lossdoctor.scenarios.records import TrainLog


def write(log: TrainLog, out_dir: Path, log_every: int = 1, filename: str = "train.log") -> Path:
    """`[epoch 2, batch 40] loss: 0.531 lr: 0.01` per logged step (no `lr:` when none was recorded); a
    summary line at each evaluation."""
    path = Path(out_dir) / filename
    evals = evals_by_step(log)
    with_grad = has_grad_norm(log)
    logged = {r.step for r in logged_steps(log, log_every)}
    lines = [f"training {log.dataset_size} samples, batch size {log.batch_size}, {log.epochs} epochs"]
    if all(r.batch_size == 0 for r in log.steps):  # a loss-only log says nothing about batches
        lines = [f"training {log.epochs} epochs"]
    for r in log.steps:
        if r.step in logged:
            lr = f" lr: {r.lr:.4g}" if known(r.lr) else ""
            grad = f" grad_norm: {r.grad_norm:.4g}" if with_grad else ""
            lines.append(f"[epoch {r.epoch + 1}, batch {r.batch + 1}] loss: {r.loss:.4g}{lr}{grad}")
        if r.step in evals:
            e = evals[r.step]
            where = "end" if r.batch == log.steps_per_epoch - 1 else f"batch {r.batch + 1}"
            lines.append(
                f"epoch {r.epoch + 1} ({where}) summary: train_loss: {e.train_loss:.4f} val_loss: {e.val_loss:.4f}"
            )
    lines.append(f"finished in {log.runtime_s:.1f}s")
    path.write_text("\n".join(lines) + "\n")
    return path
