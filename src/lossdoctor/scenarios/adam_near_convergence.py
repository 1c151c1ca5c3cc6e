"""Seed 002, verbatim: one linear layer fit to 64 random points with Adam, 5000 full-batch steps.

With torch 2.13 on CPU (seed 545345) the summed MSE falls from 69.6 to ~1e-12 by step ~300 (minimum
1.04e-12 at step 392), stays there until ~2000, then climbs back: ~1e-6 by step 3000 and up to 4.9e-3
(step 4571), i.e. >1e9× the minimum. Adam's second-moment estimate shrinks with the gradient, so its
steps stop shrinking. Each step is one epoch over the 64 points; there is no validation set.
"""

from __future__ import annotations

import torch
from torch import nn

from lossdoctor.scenarios.base import Scenario
from lossdoctor.scenarios.loop import Progress, train
from lossdoctor.scenarios.records import TrainLog

STEPS = 5000


def _train(seed: int, progress: Progress | None) -> TrainLog:
    # The seed's own numbers; `seed` only offsets them so other seeds give other (similar) runs.
    torch.manual_seed(545345 + seed)
    n, d_in, d_out = 64, 1000, 1
    x = torch.randn(n, d_in)
    y = torch.randn(n, d_out)
    model = nn.Linear(d_in, d_out)
    loss_fn = nn.MSELoss(reduction="sum")
    optimizer = torch.optim.Adam(model.parameters())
    return train(
        model,
        [(x, y)],
        lambda m, batch: loss_fn(m(batch[0]), batch[1]),
        optimizer,
        epochs=STEPS,
        dataset_size=n,
        batch_size=n,
        progress=progress,
        progress_every=500,
    )


SCENARIOS = [
    Scenario(
        "seed002_adam_near_convergence",
        "adam_near_convergence",
        "nn.Linear(1000, 1) on 64 random points, Adam defaults, MSE(sum), 5000 full-batch steps: "
        "the loss reaches ~1e-12 and climbs back to ~1e-3.",
        _train,
    ),
]
