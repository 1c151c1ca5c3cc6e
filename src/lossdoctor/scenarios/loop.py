"""One plain PyTorch training loop shared by every scenario, recording what the log writers need."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.records import EvalRecord, StepRecord, TrainLog

#: Computes the loss of one batch (the tensors a loader yields); the scenario's bug lives here.
BatchLoss = Callable[[nn.Module, Sequence[torch.Tensor]], torch.Tensor]
Progress = Callable[[str], None]
#: Where the loop (re)enters train mode: before every step (safe), or only at each epoch start, the
#: common hand-written loop that leaves the model in eval mode after a mid-epoch evaluation.
TrainMode = Literal["every_step", "epoch_start"]
#: When the scheduler steps: after every optimizer step, or once at the end of every epoch.
SchedulerInterval = Literal["step", "epoch"]


def eval_points(steps_per_epoch: int, evals_per_epoch: int) -> set[int]:
    """Batch indices after which to evaluate: evenly spread, the last one closing the epoch."""
    return {round(steps_per_epoch * (k + 1) / evals_per_epoch) - 1 for k in range(evals_per_epoch)}


def train(
    model: nn.Module,
    batches: Collection[Sequence[torch.Tensor]],
    batch_loss: BatchLoss,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    dataset_size: int,
    batch_size: int,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    evaluate: Callable[[nn.Module], float] | None = None,
    evals_per_epoch: int = 1,
    clip: float | None = None,
    train_mode: TrainMode = "every_step",
    scheduler_interval: SchedulerInterval = "step",
    progress: Progress | None = None,
    progress_every: int = 1,
) -> TrainLog:
    """Train for `epochs` passes over `batches` (re-iterated each epoch, so a DataLoader reshuffles).

    Per-step values stay on the device and are copied out once at the end; only epoch-end progress
    lines read a number early. `train_mode="epoch_start"` calls `model.train()` only when an epoch
    begins, so after a mid-epoch evaluation the model keeps training in eval mode (the bug of
    `eval_mode_leak`). The logged LR is the one the step used.
    """
    started = time.perf_counter()
    params = [p for p in model.parameters() if p.requires_grad]
    losses: list[torch.Tensor] = []
    norms: list[torch.Tensor] = []
    meta: list[tuple[int, int, float, int]] = []  # epoch, batch, lr, batch size
    evals: list[tuple[int, int, float, int]] = []  # step, epoch, val loss, index of first step since last
    since = 0
    steps_per_epoch = len(batches)
    points = eval_points(steps_per_epoch, evals_per_epoch)
    for epoch in range(epochs):
        if train_mode == "epoch_start":
            model.train()
        for batch_idx, batch in enumerate(batches):
            if train_mode == "every_step":
                model.train()
            lr = float(optimizer.param_groups[0]["lr"])
            loss = batch_loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grads = [p.grad for p in params if p.grad is not None]
            norm = nn.utils.get_total_norm(grads)
            if clip is not None:
                nn.utils.clip_grads_with_norm_(params, clip, norm)
            optimizer.step()
            if scheduler is not None and scheduler_interval == "step":
                scheduler.step()
            losses.append(loss.detach())
            norms.append(norm.detach())
            meta.append((epoch, batch_idx, lr, len(batch[0])))
            if evaluate is not None and batch_idx in points:
                model.eval()
                with torch.no_grad():
                    val = float(evaluate(model))
                evals.append((len(losses) - 1, epoch, val, since))
                since = len(losses)
        if scheduler is not None and scheduler_interval == "epoch":
            scheduler.step()
        if progress is not None and ((epoch + 1) % progress_every == 0 or epoch == epochs - 1):
            progress(_progress_line(epoch, epochs, losses[-steps_per_epoch:], evals))
    loss_values = torch.stack(losses).tolist()
    norm_values = torch.stack(norms).tolist()
    steps = tuple(StepRecord(i, e, b, loss_values[i], lr, bs, norm_values[i]) for i, (e, b, lr, bs) in enumerate(meta))
    eval_records = tuple(
        EvalRecord(step, e, val, sum(loss_values[first : step + 1]) / (step + 1 - first))
        for step, e, val, first in evals
    )
    return TrainLog(
        steps=steps,
        evals=eval_records,
        steps_per_epoch=steps_per_epoch,
        batch_size=batch_size,
        dataset_size=dataset_size,
        epochs=epochs,
        optimizer=type(optimizer).__name__,
        runtime_s=time.perf_counter() - started,
    )


def _progress_line(
    epoch: int, epochs: int, epoch_losses: list[torch.Tensor], evals: list[tuple[int, int, float, int]]
) -> str:
    mean = float(torch.stack(epoch_losses).mean())
    line = f"epoch {epoch + 1}/{epochs}  train loss {mean:.4g}"
    if evals and evals[-1][1] == epoch:
        line += f"  val loss {evals[-1][2]:.4g}"
    return line


def train_classifier(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    n_train: int,
    *,
    batch_size: int,
    seed: int,
    epochs: int,
    train_y: torch.Tensor | None = None,
    **options,
) -> TrainLog:
    """Cross-entropy on the first `n_train` samples (reshuffled every epoch), validation on the rest.

    `train_y` replaces the training labels (e.g. with flipped ones) while validation keeps the clean
    labels; `options` go to `train` (evals per epoch, scheduler, train mode, clipping...).
    """
    from lossdoctor.scenarios.data import loader

    labels = y[:n_train] if train_y is None else train_y
    return train(
        model,
        loader(x[:n_train], labels, batch_size=batch_size, seed=seed),
        lambda m, b: F.cross_entropy(m(b[0]), b[1]),
        optimizer,
        epochs=epochs,
        dataset_size=n_train,
        batch_size=batch_size,
        evaluate=lambda m: float(F.cross_entropy(m(x[n_train:]), y[n_train:])),
        **options,
    )
