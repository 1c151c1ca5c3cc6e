"""Seed 003: loss spikes exactly once per epoch because the loss is divided by the batch size twice.

`F.mse_loss` already averages over the batch; dividing again by `len(x)` makes the loss (and gradient)
∝ 1/B. The dataset holds 29 full batches of 128 plus a last batch of 8, so the last step of every epoch
reports a loss ~16× too large and takes a ~16× too large step, which SGD momentum carries into the
next steps. What a person sees (seed 0): the last-step loss is 2.4–36× the epoch median (median ~8×),
its gradient norm 9–86× the epoch median, every epoch; validation wanders (0.39–2.2) instead of
settling. The fixed run normalises once (lr scaled by 1/128 for the same step size): no spikes,
validation falls steadily to ~0.18.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.base import Scenario
from lossdoctor.scenarios.data import loader, regression
from lossdoctor.scenarios.loop import Progress, train
from lossdoctor.scenarios.records import TrainLog

BATCH = 128
LAST_BATCH = 8
N_TRAIN = BATCH * 29 + LAST_BATCH
EPOCHS = 16
#: Per-example step size; the buggy run needs it times BATCH because its loss is BATCH times smaller.
STEP = 0.005


def _train(seed: int, progress: Progress | None, double_normalised: bool) -> TrainLog:
    torch.manual_seed(seed)
    x, y = regression(N_TRAIN + 512, 16, seed, noise=0.3)
    x_val, y_val = x[N_TRAIN:], y[N_TRAIN:]
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    lr = STEP * BATCH if double_normalised else STEP
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def batch_loss(m: nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
        xb, yb = batch
        loss = F.mse_loss(m(xb), yb)  # already the batch mean
        return loss / len(xb) if double_normalised else loss  # the bug: a second division by B

    return train(
        model,
        loader(x[:N_TRAIN], y[:N_TRAIN], batch_size=BATCH, seed=seed),
        batch_loss,
        optimizer,
        epochs=EPOCHS,
        dataset_size=N_TRAIN,
        batch_size=BATCH,
        evaluate=lambda m: float(F.mse_loss(m(x_val), y_val)),
        progress=progress,
    )


SCENARIOS = [
    Scenario(
        "seed003_partial_last_batch",
        "partial_last_batch",
        "MLP regression, SGD+momentum, loss divided by the batch size twice, last batch 8 of 128: "
        "a loss and gradient spike at the last step of every epoch.",
        lambda seed, progress: _train(seed, progress, double_normalised=True),
    ),
    Scenario(
        "seed003_fixed",
        None,
        "The same run with the loss normalised once: the small last batch no longer spikes.",
        lambda seed, progress: _train(seed, progress, double_normalised=False),
    ),
]
