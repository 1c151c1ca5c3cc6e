"""TensorBoard event file written by the real `torch.utils.tensorboard.SummaryWriter`."""

from __future__ import annotations

from pathlib import Path

from lossdoctor.scenarios.logwriters._common import evals_by_step, has_grad_norm, known, logged_steps
from lossdoctor.scenarios.records import TrainLog


def write(log: TrainLog, out_dir: Path, log_every: int = 1, subdir: str = "tensorboard") -> Path:
    """Tags `train/loss`, `train/lr`, `train/grad_norm`, `val/loss` at the global step; NaN lr/grad norm: none."""
    from torch.utils.tensorboard import SummaryWriter  # torch only where it is needed

    run_dir = Path(out_dir) / subdir
    run_dir.mkdir(parents=True, exist_ok=True)
    for old in run_dir.glob("events.out.tfevents.*"):
        old.unlink()
    writer = SummaryWriter(log_dir=str(run_dir))
    evals = evals_by_step(log)
    with_grad = has_grad_norm(log)
    logged = {r.step for r in logged_steps(log, log_every)}
    for r in log.steps:
        if r.step in logged:
            writer.add_scalar("train/loss", r.loss, r.step)
            if known(r.lr):
                writer.add_scalar("train/lr", r.lr, r.step)
            if with_grad:
                writer.add_scalar("train/grad_norm", r.grad_norm, r.step)
        if r.step in evals:
            writer.add_scalar("val/loss", evals[r.step].val_loss, r.step)
    writer.close()
    return next(run_dir.glob("events.out.tfevents.*"))
