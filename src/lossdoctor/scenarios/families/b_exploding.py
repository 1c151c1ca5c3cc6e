"""`exploding_gradients`: an IRNN (ReLU RNN, recurrent weights initialised to the identity, Le et al.
2015) on a long-memory regression, trained with plain SGD and no gradient clipping.

The target is a leaky sum of the inputs over 40-45 steps with a decay of 0.95, so the model must
keep a memory whose gain per step sits just below 1, and an identity-initialised ReLU RNN starts right
at that edge. Backpropagation through T steps multiplies by the recurrent gain T times: while it stays
below 1 the gradient is ordinary, but minibatch noise now and then pushes an eigenvalue above 1 and the
hidden state and the gradient grow like gain^T. That step's gradient norm is 10-100× the running level
(already raised the step before, as the gain creeps over the edge); the oversized update it makes throws
the loss up for a few steps (the next batches see damaged weights too), and since the optimum lies
below the edge the model falls back and recovers. A person sees several sporadic loss spikes, each on
a gradient-norm spike, at irregular steps unrelated to the epoch, between which training goes on and
ends far below its start: no NaN, no steady climb. A short linear warmup (the first 10% of the run)
keeps the very first, largest gradients from throwing the weights out at step one, the usual reason
people add warmup.

- `explode_rnn_sgd`: warmup, then a constant LR: spikes all through the run.
- `explode_rnn_cosine`: warmup and cosine decay, the usual schedule: spikes while the LR is high,
  fewer as it decays, and the run ends calm and low.

What did not work, measured on 10 seeds: SGD with momentum 0.9 (either no explosion or no recovery),
two stacked IRNN layers and a tanh RNN initialised above spectral radius 1 (no spikes or NaN),
token inputs through an embedding (NaN on some seeds), Adam (it bounds every step: no spikes),
and no warmup (the first update throws the weights out and the run NaNs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.catalog import Family, register
from lossdoctor.scenarios.data import loader
from lossdoctor.scenarios.families.b_common import warmup_cosine
from lossdoctor.scenarios.loop import train
from lossdoctor.scenarios.records import TrainLog

#: Share of the run over which the LR rises linearly to its constant value.
WARMUP = 0.1


def leaky_sums(n: int, length: int, decay: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian sequences and, as target, their sum weighted by `decay` ** (steps before the end)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, length, 1, generator=g)
    w = decay ** torch.arange(length - 1, -1, -1, dtype=torch.float32)
    return x, (x[:, :, 0] * w).sum(1, keepdim=True) / w.norm()


class IRNN(nn.Module):
    """ReLU RNN with identity recurrent weights and no biases, a linear head on the last state."""

    def __init__(self, d_in: int, hidden: int, d_out: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(d_in, hidden, nonlinearity="relu", bias=False, batch_first=True)
        with torch.no_grad():
            self.rnn.weight_hh_l0.copy_(torch.eye(hidden))
        self.out = nn.Linear(hidden, d_out)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(seq)
        return self.out(states[:, -1])


def warmup_constant(opt: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over the first `WARMUP` of the run, then a constant LR."""
    warmup = max(1, int(total * WARMUP))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup))


Schedule = Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]


def _irnn(seed: int, p: Mapping[str, Any], schedule: Schedule = warmup_constant) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = p["n"], p["batch"]
    x, y = leaky_sums(n + 256, p["length"], p["decay"], seed)
    model = IRNN(1, p["hidden"], 1)
    opt = torch.optim.SGD(model.parameters(), lr=p["lr"])
    return train(
        model,
        loader(x[:n], y[:n], batch_size=batch, seed=seed, drop_last=True),
        lambda m, b: F.mse_loss(m(b[0]), b[1]),
        opt,
        scheduler=schedule(opt, p["epochs"] * (n // batch)),
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
        "IRNN (identity-initialised ReLU RNN) on a leaky sum over 40-45 steps, plain SGD at a constant LR"
        " after warmup, no clipping: sporadic gradient-norm spikes of 10-100x, each throwing the loss up,"
        " then recovery.",
        _irnn,
        tune=(
            {"n": 1024, "batch": 32, "lr": 0.005, "hidden": 32, "length": 40, "decay": 0.95, "epochs": 16},
            {"n": 2048, "batch": 64, "lr": 0.006, "hidden": 48, "length": 40, "decay": 0.95, "epochs": 14},
        ),
        report=(
            {"n": 1280, "batch": 32, "lr": 0.005, "hidden": 48, "length": 40, "decay": 0.95, "epochs": 14},
            {"n": 1536, "batch": 48, "lr": 0.0055, "hidden": 40, "length": 40, "decay": 0.95, "epochs": 14},
            {"n": 1024, "batch": 32, "lr": 0.004, "hidden": 48, "length": 45, "decay": 0.95, "epochs": 14,
             "evals_per_epoch": 2},
        ),
    )
)

register(
    Family(
        "explode_rnn_cosine",
        "exploding_gradients",
        "IRNN on a leaky sum over 40-45 steps, plain SGD with warmup and cosine decay, no clipping: the"
        " gradient explodes now and then while the LR is high, and the loss recovers each time.",
        lambda seed, p: _irnn(seed, p, warmup_cosine),
        tune=(
            {"n": 1024, "batch": 32, "lr": 0.0055, "hidden": 40, "length": 40, "decay": 0.95, "epochs": 16},
            {"n": 1280, "batch": 32, "lr": 0.005, "hidden": 48, "length": 40, "decay": 0.95, "epochs": 14},
        ),
        report=(
            {"n": 1024, "batch": 32, "lr": 0.005, "hidden": 56, "length": 40, "decay": 0.95, "epochs": 14},
            {"n": 2048, "batch": 64, "lr": 0.006, "hidden": 40, "length": 40, "decay": 0.95, "epochs": 12},
            {"n": 1024, "batch": 32, "lr": 0.0045, "hidden": 48, "length": 45, "decay": 0.95, "epochs": 16,
             "evals_per_epoch": 2},
        ),
    )
)
