"""Healthy runs (cause None): warmup then decay, batches of 32 or more, every batch full, sensible LRs.

What a person sees: a loss that falls and flattens with the ordinary minibatch wobble (a few percent to
~20% of its level), gradient norms without spikes, validation that falls and stays down. These are the
runs on which lossdoctor must say "normal", across an MLP, a CNN, a GRU and a tiny transformer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.catalog import Family, register
from lossdoctor.scenarios.data import loader, markov_sequences, noisy_text_classes, regression, shape_images
from lossdoctor.scenarios.families.b_common import optimizer, warmup_cosine
from lossdoctor.scenarios.families.b_models import SequenceNet, SmallCNN, TinyTransformer, mlp
from lossdoctor.scenarios.loop import BatchLoss, train
from lossdoctor.scenarios.records import TrainLog


def _fit(
    seed: int,
    p: Mapping[str, Any],
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    loss_fn: BatchLoss,
    opt_name: str,
) -> TrainLog:
    """Train on the first `n` samples with warmup + cosine, evaluate on the rest; drop_last keeps batches full."""
    n, batch = p["n"], p["batch"]
    x, y = data
    opt = optimizer(opt_name, model.parameters(), p["lr"])
    batches = loader(x[:n], y[:n], batch_size=batch, seed=seed, drop_last=True)
    return train(
        model,
        batches,
        loss_fn,
        opt,
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        scheduler=warmup_cosine(opt, p["epochs"] * len(batches)),
        evaluate=lambda m: float(loss_fn(m, (x[n:], y[n:]))),
        evals_per_epoch=p.get("evals_per_epoch", 1),
    )


def _mse(m: nn.Module, b: Any) -> torch.Tensor:
    return F.mse_loss(m(b[0]), b[1])


def _ce(m: nn.Module, b: Any) -> torch.Tensor:
    return F.cross_entropy(m(b[0]), b[1])


def _mlp(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    data = regression(p["n"] + 512, 16, seed, noise=0.3)
    return _fit(seed, p, mlp(16, p["width"], 1), data, _mse, "adamw")


def _cnn(seed: int, p: Mapping[str, Any]) -> TrainLog:
    """SGD+momentum 0.9 at LRs of 0.004-0.015: at 2-3x these (0.01-0.05) the validation loss measured after
    every step swung 2-4x within a few steps on 7 of 10 runs, an edge-of-stability oscillation that per-epoch
    evaluation hid; a healthy run must stay healthy however often it is evaluated."""
    torch.manual_seed(seed)
    images, labels = shape_images(p["n"] + 256, 16, seed)
    # Extra pixel noise so the task is not solved to a loss of 1e-6 within two epochs.
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed + 7))
    data = (images + 2.5 * noise, labels)
    return _fit(seed, p, SmallCNN(16, p["width"]), data, _ce, "sgd")


def _gru(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    data = markov_sequences(p["n"] + 512, 40, 8, seed)
    return _fit(seed, p, SequenceNet("gru", 24, p["width"], 40, vocab=40), data, _ce, "adam")


def _transformer(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    data = noisy_text_classes(p["n"] + 400, 100, 16, seed, label_noise=0.05)
    return _fit(seed, p, TinyTransformer(100, 16, p["width"], 2), data, _ce, "adamw")


register(
    Family(
        "healthy_b_mlp_adamw",
        None,
        "MLP regression, AdamW with warmup + cosine, batch 32-128: normal noise, no problem.",
        _mlp,
        tune=(
            {"n": 2048, "batch": 64, "lr": 3e-3, "width": 64, "epochs": 6},
            {"n": 1536, "batch": 32, "lr": 1e-3, "width": 32, "epochs": 5},
        ),
        report=(
            {"n": 4096, "batch": 128, "lr": 3e-3, "width": 64, "epochs": 6},
            {"n": 2048, "batch": 32, "lr": 2e-3, "width": 48, "epochs": 4, "evals_per_epoch": 2},
            {"n": 3072, "batch": 64, "lr": 1e-3, "width": 96, "epochs": 5},
        ),
    )
)

register(
    Family(
        "healthy_b_cnn_sgd",
        None,
        "Small CNN on synthetic images, SGD+momentum with warmup + cosine, batch 32-64: normal noise.",
        _cnn,
        tune=(
            {"n": 1024, "batch": 32, "lr": 0.006, "width": 8, "epochs": 5},
            {"n": 1280, "batch": 64, "lr": 0.015, "width": 6, "epochs": 6},
        ),
        report=(
            {"n": 1536, "batch": 32, "lr": 0.004, "width": 8, "epochs": 4},
            {"n": 1024, "batch": 64, "lr": 0.01, "width": 8, "epochs": 6},
            {"n": 768, "batch": 32, "lr": 0.006, "width": 6, "epochs": 6, "evals_per_epoch": 2},
        ),
    )
)

register(
    Family(
        "healthy_b_gru_adam",
        None,
        "GRU next-item prediction, Adam with warmup + cosine, batch 32-64: normal noise.",
        _gru,
        tune=(
            {"n": 1536, "batch": 64, "lr": 3e-3, "width": 48, "epochs": 6},
            {"n": 1024, "batch": 32, "lr": 2e-3, "width": 32, "epochs": 5},
        ),
        report=(
            {"n": 2048, "batch": 64, "lr": 2e-3, "width": 64, "epochs": 5},
            {"n": 1280, "batch": 32, "lr": 3e-3, "width": 32, "epochs": 4, "evals_per_epoch": 4},
            {"n": 1536, "batch": 48, "lr": 5e-3, "width": 48, "epochs": 6},
        ),
    )
)

register(
    Family(
        "healthy_b_transformer_adamw",
        None,
        "Tiny post-norm transformer encoder on token sequences, AdamW with warmup + cosine, batch 32-64.",
        _transformer,
        tune=(
            {"n": 1024, "batch": 32, "lr": 1e-3, "width": 32, "epochs": 3},
            {"n": 1536, "batch": 64, "lr": 2e-3, "width": 24, "epochs": 3},
        ),
        report=(
            {"n": 1280, "batch": 32, "lr": 5e-4, "width": 32, "epochs": 5},
            {"n": 2048, "batch": 64, "lr": 1e-3, "width": 32, "epochs": 4},
            {"n": 1024, "batch": 32, "lr": 2e-3, "width": 16, "epochs": 4, "evals_per_epoch": 2},
        ),
    )
)
