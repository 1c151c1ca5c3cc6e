"""LR schedule jumps: a healthy run whose loss changes level exactly where the logged LR jumps.

What a person sees: a normally falling, normally noisy loss, plus sudden level changes that line up
with the LR series: a step down at each `MultiStepLR` decay (the noise floor of the large LR drops
away), or a jump up at each `CosineAnnealingWarmRestarts` restart (the LR goes from ~0 back to its
maximum and the weights leave the minimum they had settled into), then a fast recovery. Nothing to fix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.catalog import Family, Params, register
from lossdoctor.scenarios.data import loader, regression, shape_images
from lossdoctor.scenarios.families.a_data import flip_labels
from lossdoctor.scenarios.families.a_models import ConvNet, mlp
from lossdoctor.scenarios.loop import train, train_classifier
from lossdoctor.scenarios.records import TrainLog


def multistep_cnn_sgd(seed: int, params: Params) -> TrainLog:
    """A small CNN on noisy pattern images, SGD + momentum, LR ×0.1 at two milestone epochs.

    The classic staircase: at the large LR the loss bounces on a plateau set by SGD's noise, and each
    decay lets it settle visibly lower at once.
    """
    torch.manual_seed(seed)
    n, batch, size = params["n_train"], params["batch"], 12
    images, labels = shape_images(n + 256, size, seed)
    g = torch.Generator().manual_seed(seed + 1)
    images = images + params.get("noise", 2.2) * torch.randn(images.shape, generator=g)  # a floor above 0
    train_labels = flip_labels(labels[:n], 4, params.get("flip", 0.0), seed)
    model = ConvNet(size, params["width"], 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=params["lr"], momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(params["milestones"]), gamma=0.1)
    return train_classifier(
        model,
        optimizer,
        images,
        labels,
        n,
        batch_size=batch,
        seed=seed,
        epochs=params["epochs"],
        train_y=train_labels,
        scheduler=scheduler,
        scheduler_interval="epoch",
    )


def restarts_mlp_adamw(seed: int, params: Params) -> TrainLog:
    """MLP regression, AdamW, `CosineAnnealingWarmRestarts` stepped every batch (period in steps)."""
    torch.manual_seed(seed)
    n, batch, d = params["n_train"], params["batch"], 16
    x, y = regression(n + 512, d, seed, noise=0.3)
    model: nn.Module = mlp(d, params["width"], 1, depth=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params["lr"], weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=params["period"], T_mult=params.get("t_mult", 1), eta_min=params["lr"] * 1e-3
    )
    return train(
        model,
        loader(x[:n], y[:n], batch_size=batch, seed=seed),
        lambda m, b: F.mse_loss(m(b[0]), b[1]),
        optimizer,
        epochs=params["epochs"],
        dataset_size=n,
        batch_size=batch,
        scheduler=scheduler,
        evaluate=lambda m: float(F.mse_loss(m(x[n:]), y[n:])),
        evals_per_epoch=params.get("evals_per_epoch", 1),
    )


register(
    Family(
        "schedule_multistep_cnn_sgd",
        "lr_schedule_jumps",
        "Small CNN, SGD + momentum, MultiStepLR (x0.1 at two epochs): the loss steps down exactly at the "
        "LR decays; otherwise a healthy run.",
        multistep_cnn_sgd,
        tune=(
            {"n_train": 1024, "batch": 32, "width": 8, "lr": 0.05, "epochs": 9, "milestones": (4, 7)},
            {"n_train": 768, "batch": 16, "width": 6, "lr": 0.03, "epochs": 7, "milestones": (3, 5)},
        ),
        report=(
            {"n_train": 1280, "batch": 32, "width": 8, "lr": 0.06, "epochs": 8, "milestones": (5, 7)},
            {"n_train": 640, "batch": 16, "width": 10, "lr": 0.04, "epochs": 10, "milestones": (4, 8)},
            {"n_train": 2048, "batch": 64, "width": 6, "lr": 0.06, "epochs": 9, "milestones": (5, 7)},
        ),
    )
)

register(
    Family(
        "schedule_restarts_mlp_adamw",
        "lr_schedule_jumps",
        "MLP regression, AdamW, CosineAnnealingWarmRestarts per step: the loss jumps up at every restart "
        "and recovers as the LR anneals; otherwise a healthy run.",
        restarts_mlp_adamw,
        tune=(
            {"n_train": 2048, "batch": 32, "width": 64, "lr": 2e-2, "epochs": 6, "period": 96},
            {"n_train": 1536, "batch": 16, "width": 48, "lr": 1e-2, "epochs": 4, "period": 64, "t_mult": 2},
        ),
        report=(
            {"n_train": 2560, "batch": 32, "width": 96, "lr": 1.5e-2, "epochs": 5, "period": 80},
            {"n_train": 1024, "batch": 16, "width": 32, "lr": 3e-2, "epochs": 5, "period": 100},
            {"n_train": 4096, "batch": 64, "width": 64, "lr": 3e-2, "epochs": 8, "period": 40, "t_mult": 2},
        ),
    )
)
