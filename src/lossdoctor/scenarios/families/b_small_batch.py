"""`small_batch_noise` (benign): batches of 4–16 on noisy tasks give a jumpy loss; the model learns fine.

- `sbn_text_adamw`: the seed 001 setup with other sizes: a "pretrained" bag-of-embeddings classifier
  fine-tuned with AdamW and a linear decay on token sequences with flipped labels. Each small batch's
  mean loss swings between easy batches and ones holding a flipped label.
- `sbn_mlp_sgd`: MLP regression on targets with unit noise, SGD+momentum with a linear decay. A batch
  of 4–16 squared errors of unit-variance noise has a relative spread of ~sqrt(2/B).

A person sees a train loss whose step-to-step spread is a large fraction of its level around a
falling (or flat, once learnt) trend, about the same at every LR tried, while validation falls and stays
down: nothing to fix but the display (smoothing) or the batch (gradient accumulation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.catalog import Family, register
from lossdoctor.scenarios.data import loader, noisy_text_classes, regression
from lossdoctor.scenarios.families.b_common import optimizer
from lossdoctor.scenarios.families.b_models import mlp
from lossdoctor.scenarios.loop import train
from lossdoctor.scenarios.records import TrainLog

VOCAB = 200
LENGTH = 24


class PretrainedBag(nn.Module):
    """Mean of token embeddings and a small head; topic words start separated, as after pretraining."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(VOCAB, width, mode="mean")
        self.head = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, 2))
        with torch.no_grad():
            direction = torch.randn(width)
            direction = 3 * direction / direction.norm()
            self.embed.weight[: VOCAB // 2] += direction
            self.embed.weight[VOCAB // 2 :] -= direction

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(tokens))


def _linear_decay(opt: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / total)


def _text(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = p["n"], p["batch"]
    tokens, labels = noisy_text_classes(n + 400, VOCAB, LENGTH, seed, label_noise=p["label_noise"])
    model = PretrainedBag(p["width"])
    opt = optimizer("adamw", model.parameters(), p["lr"])
    batches = loader(tokens[:n], labels[:n], batch_size=batch, seed=seed)
    return train(
        model,
        batches,
        lambda m, b: F.cross_entropy(m(b[0]), b[1]),
        opt,
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        scheduler=_linear_decay(opt, p["epochs"] * len(batches)),
        evaluate=lambda m: float(F.cross_entropy(m(tokens[n:]), labels[n:])),
        evals_per_epoch=p.get("evals_per_epoch", 1),
    )


def _regression(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = p["n"], p["batch"]
    x, y = regression(n + 512, 8, seed, noise=p["noise"])
    model = mlp(8, p["width"], 1)
    opt = optimizer("sgd", model.parameters(), p["lr"])
    batches = loader(x[:n], y[:n], batch_size=batch, seed=seed, drop_last=True)
    return train(
        model,
        batches,
        lambda m, b: F.mse_loss(m(b[0]), b[1]),
        opt,
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        scheduler=_linear_decay(opt, p["epochs"] * len(batches)),
        evaluate=lambda m: float(F.mse_loss(m(x[n:]), y[n:])),
        evals_per_epoch=p.get("evals_per_epoch", 1),
    )


register(
    Family(
        "sbn_text_adamw",
        "small_batch_noise",
        "Pretrained bag-of-embeddings text classifier, AdamW + linear decay, batch 4-16, flipped labels: "
        "a very noisy train loss around a falling trend at every LR; validation fine.",
        _text,
        tune=(
            {"n": 800, "batch": 8, "lr": 3e-3, "width": 32, "epochs": 3, "label_noise": 0.15},
            {"n": 480, "batch": 4, "lr": 1e-3, "width": 24, "epochs": 3, "label_noise": 0.1},
        ),
        report=(
            {"n": 1200, "batch": 8, "lr": 1e-2, "width": 32, "epochs": 2, "label_noise": 0.15},
            {"n": 960, "batch": 16, "lr": 3e-3, "width": 48, "epochs": 4, "label_noise": 0.2},
            {"n": 600, "batch": 4, "lr": 3e-4, "width": 32, "epochs": 3, "label_noise": 0.1, "evals_per_epoch": 2},
        ),
    )
)

register(
    Family(
        "sbn_mlp_sgd",
        "small_batch_noise",
        "MLP regression on noisy targets, SGD+momentum + linear decay, batch 4-16: the batch loss jumps by "
        "~sqrt(2/B) of its level around a falling trend; validation falls to the noise floor.",
        _regression,
        tune=(
            {"n": 1024, "batch": 8, "lr": 0.01, "width": 32, "epochs": 3, "noise": 1.0},
            {"n": 768, "batch": 4, "lr": 0.003, "width": 48, "epochs": 3, "noise": 0.7},
        ),
        report=(
            {"n": 1536, "batch": 16, "lr": 0.02, "width": 64, "epochs": 3, "noise": 1.0},
            {"n": 1024, "batch": 8, "lr": 0.001, "width": 32, "epochs": 4, "noise": 0.8},
            {"n": 640, "batch": 4, "lr": 0.005, "width": 32, "epochs": 3, "noise": 1.2, "evals_per_epoch": 4},
        ),
    )
)
