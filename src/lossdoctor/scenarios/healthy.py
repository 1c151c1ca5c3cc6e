"""Healthy runs: normal minibatch noise around a falling loss, nothing a person should fix.

Both use batch size >= 32 and a dataset that is a multiple of the batch size, so every batch is full.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.base import Scenario
from lossdoctor.scenarios.data import loader, regression, shape_images
from lossdoctor.scenarios.loop import Progress, train
from lossdoctor.scenarios.records import TrainLog


def mlp_warmup_cosine(seed: int, progress: Progress | None) -> TrainLog:
    """MLP regression, SGD+momentum, 10% linear warmup then cosine decay, batch 32, 6 epochs."""
    torch.manual_seed(seed)
    n_train, batch, epochs = 2048, 32, 6
    x, y = regression(n_train + 512, 16, seed, noise=0.3)
    x_val, y_val = x[n_train:], y[n_train:]
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    total = epochs * n_train // batch
    warmup = total // 10

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))

    return train(
        model,
        loader(x[:n_train], y[:n_train], batch_size=batch, seed=seed),
        lambda m, b: F.mse_loss(m(b[0]), b[1]),
        optimizer,
        epochs=epochs,
        dataset_size=n_train,
        batch_size=batch,
        scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, factor),
        evaluate=lambda m: float(F.mse_loss(m(x_val), y_val)),
        progress=progress,
    )


class SmallCNN(nn.Module):
    """Two conv blocks and a linear classifier for 16x16 one-channel images."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(16 * 4 * 4, 4)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images).flatten(1))


def cnn_adamw(seed: int, progress: Progress | None) -> TrainLog:
    """Small CNN on synthetic pattern images, AdamW lr 1e-3, batch 32, drop_last, 5 epochs."""
    torch.manual_seed(seed)
    n_train, batch, epochs = 1024, 32, 5
    images, labels = shape_images(n_train + 256, 16, seed)
    val_images, val_labels = images[n_train:], labels[n_train:]
    model = SmallCNN()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    return train(
        model,
        loader(images[:n_train], labels[:n_train], batch_size=batch, seed=seed, drop_last=True),
        lambda m, b: F.cross_entropy(m(b[0]), b[1]),
        optimizer,
        epochs=epochs,
        dataset_size=n_train,
        batch_size=batch,
        evaluate=lambda m: float(F.cross_entropy(m(val_images), val_labels)),
        progress=progress,
    )


SCENARIOS = [
    Scenario(
        "healthy_mlp_warmup_cosine",
        None,
        "MLP regression, SGD+momentum with warmup and cosine decay, batch 32: normal noise, no problem.",
        mlp_warmup_cosine,
    ),
    Scenario(
        "healthy_cnn_adamw",
        None,
        "Small CNN on synthetic images, AdamW, batch 32, drop_last: normal noise, no problem.",
        cnn_adamw,
    ),
]
