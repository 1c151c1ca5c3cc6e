"""`numerical_instability`: log of a probability computed by hand, which reaches exactly 0 once logits grow.

Both families train an MLP classifier on overlapping Gaussian clusters. As the model grows confident,
the probability in some `log` rounds to exactly 0, and the loss of that batch is inf or NaN from a
normal level (~0.1-0.5), with no climb before it and a NaN gradient (inf × 0 in the backward).

- `numinst_log_sigmoid_adam`: binary MLP, Adam, the cross-entropy written as
  `-(y*log(sigmoid(z)) + (1-y)*log(1-sigmoid(z)))` in float32. For a confidently right positive sample
  (z > ~17) `sigmoid(z)` rounds to 1, so `(1-y)*log(1-p)` is `0 * -inf = NaN`. The loop stops at once at
  the first non-finite loss (`if not torch.isfinite(loss): break`), so the run ends on a NaN after a
  normal-looking curve.
- `numinst_half_log_softmax`: multi-class MLP with 2-3% flipped labels that computes
  `log(softmax(logits.half()))` (the loss in half precision to save memory); float16 probabilities below
  ~6e-8 are 0, so a flipped label facing a logit margin > ~17 gives an inf loss. With `skip=True` steps
  with a non-finite gradient are skipped (as `torch.amp.GradScaler` and HF do): a person sees isolated
  inf losses from a normal level while training goes on. With `skip=False` the NaN gradient reaches the
  weights and every later loss is NaN (the loop keeps stepping).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.catalog import Family, register
from lossdoctor.scenarios.data import loader
from lossdoctor.scenarios.families.b_common import optimizer, stop_at_nonfinite
from lossdoctor.scenarios.families.b_models import mlp
from lossdoctor.scenarios.loop import train
from lossdoctor.scenarios.records import TrainLog


def noisy_clusters(
    n: int, d: int, classes: int, seed: int, flip: float, spread: float = 3.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit Gaussian clusters about `spread` apart, with a fraction `flip` of labels set to another class."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=g) * spread / (2 * d) ** 0.5
    labels = torch.randint(0, classes, (n,), generator=g)
    x = centers[labels] + torch.randn(n, d, generator=g)
    flipped = torch.rand(n, generator=g) < flip
    other = (labels + torch.randint(1, classes, (n,), generator=g)) % classes
    return x, torch.where(flipped, other, labels)


def skip_nonfinite_steps(opt: torch.optim.Optimizer) -> None:
    """Make `opt.step()` a no-op when any gradient is inf/NaN, the way `GradScaler` skips such steps."""

    def hook(o: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        grads = [p.grad for group in o.param_groups for p in group["params"] if p.grad is not None]
        if not bool(torch.isfinite(torch.stack([g.sum() for g in grads])).all()):
            for group in o.param_groups:
                for p in group["params"]:
                    p.grad = None  # optimizers skip parameters without a gradient

    opt.register_step_pre_hook(hook)


def _hand_bce(m: nn.Module, b: Any) -> torch.Tensor:
    p = torch.sigmoid(m(b[0]).squeeze(1))
    y = b[1].float()
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()  # the bug: log of a probability


def _half_ce(m: nn.Module, b: Any) -> torch.Tensor:
    probs = torch.softmax(m(b[0]).half(), dim=1)  # the bug: probabilities in float16, then log
    return -torch.log(probs.gather(1, b[1][:, None])).float().mean()


def _log_sigmoid(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = p["n"], p["batch"]
    x, y = noisy_clusters(n + 512, p["d"], 2, seed, p["flip"], p["spread"])
    model = mlp(p["d"], p["width"], 1)
    log = train(
        model,
        loader(x[:n], y[:n], batch_size=batch, seed=seed, drop_last=True),
        _hand_bce,
        optimizer("adam", model.parameters(), p["lr"]),
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        evaluate=lambda m: float(F.binary_cross_entropy_with_logits(m(x[n:]).squeeze(1), y[n:].float())),
    )
    return stop_at_nonfinite(log)


def _half_log_softmax(seed: int, p: Mapping[str, Any]) -> TrainLog:
    torch.manual_seed(seed)
    n, batch = p["n"], p["batch"]
    x, y = noisy_clusters(n + 512, p["d"], p["classes"], seed, p["flip"], p["spread"])
    model = mlp(p["d"], p["width"], p["classes"])
    opt = optimizer(p["opt"], model.parameters(), p["lr"])
    if p["skip"]:
        skip_nonfinite_steps(opt)
    return train(
        model,
        loader(x[:n], y[:n], batch_size=batch, seed=seed, drop_last=True),
        _half_ce,
        opt,
        epochs=p["epochs"],
        dataset_size=n,
        batch_size=batch,
        evaluate=lambda m: float(F.cross_entropy(m(x[n:]), y[n:])),
    )


register(
    Family(
        "numinst_log_sigmoid_adam",
        "numerical_instability",
        "Binary MLP, Adam, cross-entropy as log(sigmoid) and log(1-sigmoid) by hand, a few flipped "
        "labels: a normal curve, then an inf loss out of nowhere; the loop stops there.",
        _log_sigmoid,
        tune=(
            {"n": 1024, "batch": 32, "d": 8, "width": 64, "lr": 3e-3, "flip": 0.0, "spread": 4.0, "epochs": 12},
            {"n": 1536, "batch": 64, "d": 16, "width": 32, "lr": 5e-3, "flip": 0.0, "spread": 4.5, "epochs": 12},
        ),
        report=(
            {"n": 2048, "batch": 64, "d": 8, "width": 64, "lr": 5e-3, "flip": 0.0, "spread": 4.5, "epochs": 12},
            {"n": 768, "batch": 32, "d": 12, "width": 96, "lr": 5e-3, "flip": 0.0, "spread": 4.5, "epochs": 15},
            {"n": 1024, "batch": 16, "d": 8, "width": 64, "lr": 5e-3, "flip": 0.0, "spread": 4.5, "epochs": 10},
        ),
    )
)

register(
    Family(
        "numinst_half_log_softmax",
        "numerical_instability",
        "Multi-class MLP, log(softmax(logits.half())) by hand, a few flipped labels: isolated inf losses "
        "from a normal level (non-finite steps skipped) or NaN from then on (not skipped).",
        _half_log_softmax,
        tune=(
            {"n": 1024, "batch": 32, "d": 8, "classes": 4, "width": 64, "lr": 0.05, "flip": 0.02,
             "spread": 12.0, "epochs": 12, "opt": "sgd", "skip": True},
            {"n": 1024, "batch": 32, "d": 16, "classes": 8, "width": 64, "lr": 0.05, "flip": 0.02,
             "spread": 16.0, "epochs": 12, "opt": "sgd", "skip": False},
        ),
        report=(
            {"n": 1280, "batch": 32, "d": 8, "classes": 4, "width": 64, "lr": 2e-2, "flip": 0.02,
             "spread": 12.0, "epochs": 10, "opt": "adamw", "skip": True},
            {"n": 1536, "batch": 48, "d": 16, "classes": 8, "width": 96, "lr": 0.05, "flip": 0.03,
             "spread": 16.0, "epochs": 10, "opt": "sgd", "skip": True},
            {"n": 1024, "batch": 32, "d": 12, "classes": 6, "width": 48, "lr": 1e-2, "flip": 0.02,
             "spread": 14.0, "epochs": 10, "opt": "adam", "skip": False},
        ),
    )
)
