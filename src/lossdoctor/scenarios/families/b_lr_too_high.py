"""`lr_too_high`: steps larger than the loss surface allows, so training oscillates, climbs or diverges.

- `lrhigh_tanh_mlp_sgd`: a tanh MLP regression with SGD+momentum at 5-15× the LR that trains it well
  (0.02). Near 0.1 the loss falls, then oscillates with growing amplitude and climbs back while the
  gradient norm grows; from ~0.15 the weights run away: the loss grows by orders of magnitude and
  reaches inf/NaN within a few hundred steps. The loop keeps stepping after NaN (as a plain PyTorch
  loop does), so NaN then fills the rest of the run.
- `lrhigh_gru_adam`: the seed 000 GRU next-item model with Adam at 0.1-0.2 (3e-3 trains it well), no
  clipping. The loss stalls above its reachable level and climbs, the gradient norm rises over the run,
  validation gets worse epoch after epoch; at 0.2 the loss sits above the chance level ln(items).
- `lrhigh_transformer_adam`: a tiny post-norm transformer with Adam at 0.1-0.2 and no warmup (2e-2
  trains it). The first steps throw the loss above chance (ln 40 = 3.69) with large swings; it then
  stays near chance, learning nothing, while a lower LR reaches ~1.3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.catalog import Family, register
from lossdoctor.scenarios.data import loader, markov_sequences, regression
from lossdoctor.scenarios.families.b_common import optimizer
from lossdoctor.scenarios.families.b_models import SequenceNet, TinyTransformer
from lossdoctor.scenarios.loop import BatchLoss, train
from lossdoctor.scenarios.records import TrainLog


def _fit(
    seed: int, p: Mapping[str, Any], model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], loss_fn: BatchLoss,
    opt_name: str,
) -> TrainLog:
    n, batch = p["n"], p["batch"]
    x, y = data
    return train(
        model,
        loader(x[:n], y[:n], batch_size=batch, seed=seed, drop_last=True),
        loss_fn,
        optimizer(opt_name, model.parameters(), p["lr"]),
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        evaluate=lambda m: float(loss_fn(m, (x[n:], y[n:]))),
        evals_per_epoch=p.get("evals_per_epoch", 1),
    )


def _mse(m: nn.Module, b: Any) -> torch.Tensor:
    return F.mse_loss(m(b[0]), b[1])


def _ce(m: nn.Module, b: Any) -> torch.Tensor:
    return F.cross_entropy(m(b[0]), b[1])


def _tanh_mlp(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    w = p["width"]
    model = nn.Sequential(nn.Linear(16, w), nn.Tanh(), nn.Linear(w, w), nn.Tanh(), nn.Linear(w, 1))
    return _fit(seed, p, model, regression(p["n"] + 512, 16, seed, noise=0.3), _mse, "sgd")


def _gru(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    items = p["items"]
    model = SequenceNet("gru", 32, p["width"], items, vocab=items)
    return _fit(seed, p, model, markov_sequences(p["n"] + 512, items, 10, seed), _ce, "adam")


def _transformer(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    model = TinyTransformer(40, 8, p["width"], 40)
    return _fit(seed, p, model, markov_sequences(p["n"] + 512, 40, 8, seed), _ce, "adam")


register(
    Family(
        "lrhigh_tanh_mlp_sgd",
        "lr_too_high",
        "Tanh MLP regression, SGD+momentum at 5-15x a good LR: the loss oscillates and climbs with a "
        "growing gradient norm, or runs away to inf/NaN (the loop keeps stepping on NaN).",
        _tanh_mlp,
        tune=(
            {"n": 2048, "batch": 64, "lr": 0.12, "width": 64, "epochs": 6},
            {"n": 1536, "batch": 32, "lr": 0.3, "width": 48, "epochs": 4},
        ),
        report=(
            {"n": 2560, "batch": 64, "lr": 0.15, "width": 96, "epochs": 6},
            {"n": 2048, "batch": 128, "lr": 0.25, "width": 64, "epochs": 8},
            {"n": 1024, "batch": 32, "lr": 0.15, "width": 32, "epochs": 5, "evals_per_epoch": 2},
        ),
    )
)

register(
    Family(
        "lrhigh_gru_adam",
        "lr_too_high",
        "GRU next-item model, Adam at 15-60x a good LR, no clipping: the loss stalls and climbs, the "
        "gradient norm rises, validation worsens every epoch.",
        _gru,
        tune=(
            {"n": 1536, "batch": 64, "lr": 0.15, "width": 64, "epochs": 6, "items": 60},
            {"n": 1536, "batch": 32, "lr": 0.2, "width": 48, "epochs": 4, "items": 40},
        ),
        report=(
            {"n": 2560, "batch": 64, "lr": 0.2, "width": 64, "epochs": 8, "items": 50, "evals_per_epoch": 4},
            {"n": 2048, "batch": 128, "lr": 0.15, "width": 96, "epochs": 10, "items": 60},
            {"n": 1024, "batch": 32, "lr": 0.15, "width": 32, "epochs": 6, "items": 40},
        ),
    )
)

register(
    Family(
        "lrhigh_transformer_adam",
        "lr_too_high",
        "Tiny post-norm transformer, Adam at a high LR with no warmup: the loss jumps above chance in "
        "the first steps and then stays near chance instead of learning.",
        _transformer,
        tune=(
            {"n": 1536, "batch": 64, "lr": 0.1, "width": 32, "epochs": 4},
            {"n": 1024, "batch": 32, "lr": 0.2, "width": 24, "epochs": 3},
        ),
        report=(
            {"n": 2048, "batch": 64, "lr": 0.15, "width": 32, "epochs": 4},
            {"n": 1024, "batch": 32, "lr": 0.15, "width": 32, "epochs": 4},
            {"n": 1536, "batch": 48, "lr": 0.2, "width": 24, "epochs": 4},
        ),
    )
)
