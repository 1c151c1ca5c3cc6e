"""`adam_near_convergence`: an adaptive optimizer fits the data almost exactly, then climbs back.

The seed 002 setup with other sizes: `nn.Linear(D, 1)` on N < D random points (so an exact fit
exists), summed MSE, full-batch steps, no validation set (one step = one epoch). Adam's (or RMSprop's)
second-moment estimate shrinks with the gradient, so the step `lr * m / sqrt(v)` stops shrinking near
the minimum; the iterate overshoots and the loss jumps up by many orders of magnitude, long after it
reached ~1e-12. A person sees a loss that falls to 1e-8..1e-13 within a few hundred steps, flat for a
while, then rises back to 1e-6..1e-2 and stays noisy there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lossdoctor.scenarios.catalog import Family, register
from lossdoctor.scenarios.families.b_common import optimizer
from lossdoctor.scenarios.loop import train
from lossdoctor.scenarios.records import TrainLog


def _linear_fit(seed: int, p: Mapping[str, Any], opt_name: str) -> TrainLog:
    torch.manual_seed(545345 + seed)  # the seed's own generator seed, offset per run
    n, d = p["n"], p["d"]
    x, y = torch.randn(n, d), torch.randn(n, 1)
    model = nn.Linear(d, 1)
    loss_fn = nn.MSELoss(reduction="sum")
    return train(
        model,
        [(x, y)],
        lambda m, b: loss_fn(m(b[0]), b[1]),
        optimizer(opt_name, model.parameters(), p["lr"]),
        epochs=p["steps"],
        dataset_size=n,
        batch_size=n,
    )


register(
    Family(
        "anc_linear_adam",
        "adam_near_convergence",
        "nn.Linear(D, 1) on N<D random points, Adam, summed MSE, full batch: the loss reaches ~1e-12 "
        "and climbs back by many orders of magnitude.",
        lambda seed, p: _linear_fit(seed, p, "adam"),
        tune=(
            {"n": 32, "d": 500, "lr": 2e-3, "steps": 2500},
            {"n": 64, "d": 1000, "lr": 2e-3, "steps": 2500},
        ),
        report=(
            {"n": 48, "d": 800, "lr": 1e-3, "steps": 4000},
            {"n": 96, "d": 1500, "lr": 2e-3, "steps": 3000},
            {"n": 24, "d": 300, "lr": 3e-3, "steps": 3000},
        ),
    )
)

register(
    Family(
        "anc_linear_rmsprop",
        "adam_near_convergence",
        "nn.Linear(D, 1) on N<D random points, RMSprop, summed MSE, full batch: the loss reaches "
        "~1e-8..1e-12 and climbs back to ~1e-3.",
        lambda seed, p: _linear_fit(seed, p, "rmsprop"),
        tune=(
            {"n": 64, "d": 1000, "lr": 1e-4, "steps": 2000},
            {"n": 32, "d": 500, "lr": 2e-4, "steps": 2000},
        ),
        report=(
            {"n": 48, "d": 800, "lr": 1e-4, "steps": 3500},
            {"n": 40, "d": 600, "lr": 2e-4, "steps": 3000},
            {"n": 24, "d": 400, "lr": 3e-4, "steps": 3000},
        ),
    )
)
