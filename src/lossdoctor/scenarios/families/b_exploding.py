"""`exploding_gradients`: a vanilla tanh RNN on long sequences, trained without gradient clipping.

The target is an exponentially weighted sum of the inputs over a 50-80 step sequence, so the RNN must
learn a leaky memory: its recurrent weights approach the edge where hidden-state perturbations neither
die out nor grow. Whenever an update pushes them across that edge, backpropagation through the
sequence multiplies the gradient up and one or two steps get a gradient norm ~5-20× the median; the
oversized update throws the loss up, and because the model is still near a good solution it recovers
within a few steps. A person sees sporadic, non-periodic loss spikes (at no fixed position in the
epoch) on the same steps as gradient-norm spikes, each followed by recovery, not a steady divergence.

- `explode_rnn_sgd`: plain SGD (the setting of Pascanu et al.'s cliff picture).
- `explode_rnn_momentum`: SGD with momentum 0.9 at a smaller LR; momentum carries each spike on for a
  few steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from lossdoctor.scenarios.catalog import Family, register
from lossdoctor.scenarios.data import loader
from lossdoctor.scenarios.families.b_common import optimizer
from lossdoctor.scenarios.families.b_models import SequenceNet
from lossdoctor.scenarios.loop import train
from lossdoctor.scenarios.records import TrainLog


def leaky_sums(n: int, length: int, decay: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian sequences and, as target, their sum weighted by `decay` ** (steps before the end)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, length, 1, generator=g)
    w = decay ** torch.arange(length - 1, -1, -1, dtype=torch.float32)
    return x, (x[:, :, 0] * w).sum(1, keepdim=True) / w.norm()


def _rnn(seed: int, p: Mapping[str, Any], opt_name: str) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = p["n"], p["batch"]
    x, y = leaky_sums(n + 256, p["length"], p["decay"], seed)
    model = SequenceNet("rnn", 1, p["hidden"], 1)
    return train(
        model,
        loader(x[:n], y[:n], batch_size=batch, seed=seed, drop_last=True),
        lambda m, b: F.mse_loss(m(b[0]), b[1]),
        optimizer(opt_name, model.parameters(), p["lr"]),
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        evaluate=lambda m: float(F.mse_loss(m(x[n:]), y[n:])),
        evals_per_epoch=p.get("evals_per_epoch", 1),
    )


register(
    Family(
        "explode_rnn_sgd",
        "exploding_gradients",
        "Vanilla tanh RNN over 50-80 steps, plain SGD, no clipping: sporadic loss spikes on the steps "
        "where the gradient norm spikes, each followed by recovery.",
        lambda seed, p: _rnn(seed, p, "sgd_plain"),
        tune=(
            {"n": 1024, "batch": 32, "lr": 0.1, "hidden": 32, "length": 60, "decay": 0.9, "epochs": 8},
            {"n": 768, "batch": 16, "lr": 0.06, "hidden": 24, "length": 50, "decay": 0.95, "epochs": 5},
        ),
        report=(
            {"n": 1280, "batch": 32, "lr": 0.12, "hidden": 32, "length": 70, "decay": 0.9, "epochs": 6},
            {"n": 1024, "batch": 64, "lr": 0.1, "hidden": 48, "length": 60, "decay": 0.92, "epochs": 10},
            {"n": 768, "batch": 24, "lr": 0.08, "hidden": 24, "length": 80, "decay": 0.9, "epochs": 6,
             "evals_per_epoch": 2},
        ),
    )
)

register(
    Family(
        "explode_rnn_momentum",
        "exploding_gradients",
        "Vanilla tanh RNN over 50-80 steps, SGD with momentum, no clipping: sporadic loss and "
        "gradient-norm spikes that momentum stretches over a few steps, then recovery.",
        lambda seed, p: _rnn(seed, p, "sgd"),
        tune=(
            {"n": 1024, "batch": 32, "lr": 0.02, "hidden": 32, "length": 60, "decay": 0.9, "epochs": 6},
            {"n": 1536, "batch": 64, "lr": 0.02, "hidden": 32, "length": 50, "decay": 0.9, "epochs": 8},
        ),
        report=(
            {"n": 1024, "batch": 32, "lr": 0.02, "hidden": 32, "length": 70, "decay": 0.9, "epochs": 6},
            {"n": 768, "batch": 16, "lr": 0.015, "hidden": 32, "length": 60, "decay": 0.9, "epochs": 5},
            {"n": 2048, "batch": 64, "lr": 0.02, "hidden": 32, "length": 60, "decay": 0.9, "epochs": 6},
        ),
    )
)
