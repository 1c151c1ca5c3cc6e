"""`partial_last_batch`: the loss magnitude depends on the batch size, and the last batch is short.

Three real bugs, each in a shuffled loader without `drop_last` whose last batch holds 1/16 to 1/2 of a
full one:

- `plb_double_mean_mlp_sgd`: MLP regression, `F.mse_loss(...) / len(x)` (the mean taken twice, seed
  003), SGD with momentum. The loss is ∝ 1/B, so the last step of every epoch reports a loss B/b times
  too large and takes a B/b times too large step, which momentum carries on. A person sees an up-spike
  at the last step of every epoch, with a gradient-norm spike on the same step.
- `plb_double_mean_cnn_adam`: the same bug in a small CNN classifier trained with Adam. Adam rescales the
  step, so training barely suffers, but the logged loss and the gradient norm still jump by B/b at the
  last step of every epoch.
- `plb_sum_mlp`: `reduction='sum'` with the LR scaled by 1/B, SGD+momentum or Adam. The loss is ∝ B, so
  the short last batch shows a *down*-spike of about b/B at the last step of every epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.catalog import Family, register
from lossdoctor.scenarios.data import loader, regression, shape_images
from lossdoctor.scenarios.families.b_common import optimizer
from lossdoctor.scenarios.families.b_models import SmallCNN, mlp
from lossdoctor.scenarios.loop import train
from lossdoctor.scenarios.records import TrainLog

#: A per-step (not per-step-per-batch) view only: a one-step spike per epoch vanishes in epoch means.
EPOCH_ONLY = frozenset({"keras_epoch"})


def _n_train(p: Mapping[str, Any]) -> int:
    return p["batch"] * p["full_batches"] + p["last"]


def _double_mean_mlp(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = _n_train(p), p["batch"]
    x, y = regression(n + 512, 16, seed, noise=0.3)
    model = mlp(16, p["width"], 1)
    # The loss is B times too small, so the LR the person settled on is B times larger.
    opt = optimizer("sgd", model.parameters(), p["lr"] * batch)

    def batch_loss(m: nn.Module, b: list[torch.Tensor]) -> torch.Tensor:
        return F.mse_loss(m(b[0]), b[1]) / len(b[0])  # the bug: a second division by the batch size

    return train(
        model,
        loader(x[:n], y[:n], batch_size=batch, seed=seed),
        batch_loss,
        opt,
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        evaluate=lambda m: float(F.mse_loss(m(x[n:]), y[n:])),
    )


def _double_mean_cnn(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = _n_train(p), p["batch"]
    images, labels = shape_images(n + 256, 16, seed)
    model = SmallCNN(16, p["width"])
    opt = optimizer("adam", model.parameters(), p["lr"])

    def batch_loss(m: nn.Module, b: list[torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(m(b[0]), b[1]) / len(b[0])  # the bug: a second division by the batch size

    return train(
        model,
        loader(images[:n], labels[:n], batch_size=batch, seed=seed),
        batch_loss,
        opt,
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        evaluate=lambda m: float(F.cross_entropy(m(images[n:]), labels[n:])),
    )


def _sum_mlp(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = _n_train(p), p["batch"]
    x, y = regression(n + 512, 16, seed, noise=0.3)
    model = mlp(16, p["width"], 1)
    # Summed loss: SGD needs the LR divided by B for the same step; Adam does not care about the scale.
    lr = p["lr"] / batch if p["opt"] == "sgd" else p["lr"]
    opt = optimizer(p["opt"], model.parameters(), lr)
    return train(
        model,
        loader(x[:n], y[:n], batch_size=batch, seed=seed),
        lambda m, b: F.mse_loss(m(b[0]), b[1], reduction="sum"),
        opt,
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        evaluate=lambda m: float(F.mse_loss(m(x[n:]), y[n:])),
    )


register(
    Family(
        "plb_double_mean_mlp_sgd",
        "partial_last_batch",
        "MLP regression, SGD+momentum, MSE mean divided again by the batch size, short last batch: "
        "an up-spike (loss and gradient norm ~B/b) at the last step of every epoch.",
        _double_mean_mlp,
        tune=(
            {"batch": 64, "full_batches": 24, "last": 4, "width": 64, "epochs": 12, "lr": 0.005},
            {"batch": 32, "full_batches": 40, "last": 8, "width": 32, "epochs": 10, "lr": 0.01},
        ),
        report=(
            {"batch": 128, "full_batches": 16, "last": 16, "width": 64, "epochs": 14, "lr": 0.005},
            {"batch": 32, "full_batches": 30, "last": 16, "width": 48, "epochs": 12, "lr": 0.008},
            {"batch": 64, "full_batches": 20, "last": 8, "width": 96, "epochs": 15, "lr": 0.004},
        ),
        hidden_in=EPOCH_ONLY,
    )
)

register(
    Family(
        "plb_double_mean_cnn_adam",
        "partial_last_batch",
        "Small CNN classifier, Adam, cross-entropy mean divided again by the batch size, short last "
        "batch: the logged loss and gradient norm jump by ~B/b at the last step of every epoch.",
        _double_mean_cnn,
        tune=(
            {"batch": 32, "full_batches": 16, "last": 4, "width": 8, "epochs": 8, "lr": 1e-3},
            {"batch": 64, "full_batches": 10, "last": 16, "width": 6, "epochs": 10, "lr": 2e-3},
        ),
        report=(
            {"batch": 32, "full_batches": 12, "last": 2, "width": 8, "epochs": 10, "lr": 1e-3},
            {"batch": 48, "full_batches": 10, "last": 24, "width": 8, "epochs": 8, "lr": 1e-3},
            {"batch": 16, "full_batches": 30, "last": 4, "width": 6, "epochs": 6, "lr": 5e-4},
        ),
        hidden_in=EPOCH_ONLY,
    )
)

register(
    Family(
        "plb_sum_mlp",
        "partial_last_batch",
        "MLP regression with reduction='sum' (loss ∝ B), short last batch: a down-spike of ~b/B at the "
        "last step of every epoch.",
        _sum_mlp,
        tune=(
            {"batch": 64, "full_batches": 20, "last": 4, "width": 64, "epochs": 10, "lr": 0.005, "opt": "sgd"},
            {"batch": 32, "full_batches": 30, "last": 16, "width": 32, "epochs": 10, "lr": 2e-3, "opt": "adam"},
        ),
        report=(
            {"batch": 128, "full_batches": 12, "last": 8, "width": 64, "epochs": 14, "lr": 0.005, "opt": "sgd"},
            {"batch": 64, "full_batches": 16, "last": 32, "width": 48, "epochs": 10, "lr": 1e-3, "opt": "adam"},
            {"batch": 32, "full_batches": 40, "last": 4, "width": 32, "epochs": 8, "lr": 0.01, "opt": "sgd"},
        ),
        hidden_in=EPOCH_ONLY,
    )
)
