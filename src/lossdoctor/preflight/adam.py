"""Adam's eps and a constant LR against the loss and gradient scale seen on a real batch (seed 002).

Adam divides each step by sqrt(v) + eps. While the gradient is much larger than eps every weight moves
by about lr per step, however small the gradient is. With a squared-error-like loss the gradient falls
like sqrt(loss), so Adam keeps taking lr-sized steps until the loss is about (eps/g0)² of where it
started: near convergence the second moment shrinks, steps stop shrinking, and the loss climbs back.
That only bites a model that can drive the loss towards 0 (more weights than target values), with a
constant LR.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .report import PreflightFinding

_ADAPTIVE = ("Adam", "AdamW", "NAdam", "RAdam", "Adamax", "RMSprop", "Adagrad")


def gradient_rms(model: nn.Module, loss: torch.Tensor) -> float:
    """RMS of the gradient per weight for `loss`, leaving the model's existing `.grad`s untouched."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    total = sum(float(g.pow(2).sum()) for g in grads if g is not None)
    count = sum(p.numel() for p, g in zip(params, grads, strict=True) if g is not None)
    return math.sqrt(total / count) if count else 0.0


def _constant_lr(scheduler: Any) -> bool:
    return scheduler is None or type(scheduler).__name__ in {"ConstantLR"}


def check_adam(
    optimizer: torch.optim.Optimizer, model: nn.Module, loss: float, grad_rms: float, targets: int | None,
    scheduler: Any,
) -> PreflightFinding | None:
    """A warning when an adaptive optimizer with a constant LR can drive an interpolating model to ~0 loss."""
    name = type(optimizer).__name__
    if name not in _ADAPTIVE or grad_rms <= 0 or not _constant_lr(scheduler):
        return None
    group = optimizer.param_groups[0]
    eps, lr = float(group.get("eps", 1e-8)), float(group["lr"])
    weights = sum(p.numel() for p in model.parameters() if p.requires_grad)
    floor = loss * (eps / grad_rms) ** 2
    interpolates = targets is not None and weights >= targets
    tiny_gradients = grad_rms < 1e3 * eps
    if not (interpolates or tiny_gradients):
        return None
    evidence = [f"{name}(lr={lr:g}, eps={eps:g}) with a constant LR; loss {loss:.4g}, gradient RMS per weight "
                f"{grad_rms:.3g} on a real batch",
                f"Adam keeps moving every weight by ~lr per step until the gradient nears eps, i.e. until the "
                f"loss is ~{floor:.2g} for a squared-error loss"]
    if interpolates:
        evidence.append(f"{weights} weights for {targets} target values: the model can fit the data exactly, "
                        "so the loss can approach 0 and then climb back (seed 002)")
    if tiny_gradients:
        evidence.append(f"the gradients are only {grad_rms / eps:.3g}× eps at this loss scale: Adam's "
                        "normalisation breaks down as soon as the loss falls")
    suggested_eps = max(eps, grad_rms * 1e-3)
    return PreflightFinding(
        "adam_near_convergence", "warning",
        "Adam with a constant LR invites the near-convergence instability at this loss scale", evidence,
        [f"optimizer = torch.optim.{name}(model.parameters(), lr={lr:g}, eps={suggested_eps:.1g})",
         "scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)  "
         "# decay the LR; or stop once the loss stops improving"], None, "adam_near_convergence")
