"""`outlier_batches`: a few bad samples in a shuffled dataset make one full batch per sample spike.

Every batch is full (the dataset is a multiple of the batch size), so the spikes are not the last
batch. Shuffling puts each bad sample in a different batch every epoch, so a person sees one loss
spike per bad sample per epoch, each at a different position in the epoch, with a gradient-norm spike
on the same step; between spikes the loss is normal.

- `outlier_mlp_sgd`: MLP regression, SGD+momentum, 2-5 samples whose target is ~50 standard deviations
  off (a unit or sign error in the labels). The squared error of one such sample dominates its batch.
- `outlier_gru_adam`: GRU sequence regression, Adam, 2-5 sequences whose target was stored ×50 (a unit
  error). Adam bounds each step, so the model never fits them and their batches spike every epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from lossdoctor.scenarios.catalog import Family, register
from lossdoctor.scenarios.data import loader, regression
from lossdoctor.scenarios.families.b_common import optimizer
from lossdoctor.scenarios.families.b_exploding import leaky_sums
from lossdoctor.scenarios.families.b_models import SequenceNet, mlp
from lossdoctor.scenarios.loop import train
from lossdoctor.scenarios.records import TrainLog


def _bad_indices(n: int, k: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed + 999))[:k]


def _mlp(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = p["n"], p["batch"]
    x, y = regression(n + 512, 16, seed, noise=0.3)
    bad = _bad_indices(n, p["bad"], seed)
    signs = torch.where(torch.arange(p["bad"]) % 2 == 0, 1.0, -1.0)[:, None]
    y[bad] = y[bad] + signs * 50 * y[:n].std()  # the corrupt labels; validation stays clean
    model = mlp(16, p["width"], 1)
    return train(
        model,
        loader(x[:n], y[:n], batch_size=batch, seed=seed),
        lambda m, b: F.mse_loss(m(b[0]), b[1]),
        optimizer("sgd", model.parameters(), p["lr"]),
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        evaluate=lambda m: float(F.mse_loss(m(x[n:]), y[n:])),
    )


def _gru(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = p["n"], p["batch"]
    x, y = leaky_sums(n + 256, p["length"], 0.8, seed)
    bad = _bad_indices(n, p["bad"], seed)
    y[bad] = y[bad] * 50 + torch.sign(y[bad]) * 10  # a unit error, and never near 0
    model = SequenceNet("gru", 1, p["width"], 1)
    return train(
        model,
        loader(x[:n], y[:n], batch_size=batch, seed=seed),
        lambda m, b: F.mse_loss(m(b[0]), b[1]),
        optimizer("adam", model.parameters(), p["lr"]),
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        evaluate=lambda m: float(F.mse_loss(m(x[n:]), y[n:])),
    )


register(
    Family(
        "outlier_mlp_sgd",
        "outlier_batches",
        "MLP regression, SGD+momentum, a few targets ~50 std off in a shuffled dataset: one spike per "
        "bad sample per epoch, at a different step each epoch, batch full.",
        _mlp,
        tune=(
            {"n": 2048, "batch": 64, "bad": 3, "lr": 0.01, "width": 64, "epochs": 6},
            {"n": 1536, "batch": 32, "bad": 2, "lr": 0.005, "width": 32, "epochs": 5},
        ),
        report=(
            {"n": 2560, "batch": 64, "bad": 5, "lr": 0.01, "width": 64, "epochs": 5},
            {"n": 1024, "batch": 32, "bad": 4, "lr": 0.003, "width": 48, "epochs": 8},
            {"n": 4096, "batch": 128, "bad": 2, "lr": 0.02, "width": 96, "epochs": 6},
        ),
    )
)

register(
    Family(
        "outlier_gru_adam",
        "outlier_batches",
        "GRU sequence regression, Adam, a few targets stored x50 in a shuffled dataset: one spike per "
        "bad sample per epoch, at a different step each epoch, batch full.",
        _gru,
        tune=(
            {"n": 1024, "batch": 32, "bad": 2, "lr": 3e-3, "width": 32, "length": 20, "epochs": 5},
            {"n": 768, "batch": 16, "bad": 3, "lr": 2e-3, "width": 24, "length": 16, "epochs": 4},
        ),
        report=(
            {"n": 1280, "batch": 32, "bad": 4, "lr": 3e-3, "width": 32, "length": 24, "epochs": 4},
            {"n": 1536, "batch": 64, "bad": 3, "lr": 5e-3, "width": 48, "length": 20, "epochs": 6},
            {"n": 640, "batch": 16, "bad": 5, "lr": 1e-3, "width": 24, "length": 12, "epochs": 5},
        ),
    )
)
