"""Running statistics kept as device tensors: updated under a mask, never read on the host."""

from __future__ import annotations

import torch


class RunningMoments:
    """Mean and variance of a scalar stream: an exact average for the first 1/(1-alpha) values, then an EMA.

    `update(x, accept)` folds `x` in only where `accept` is true (a 0-dim bool tensor), with `torch.where`,
    so a skipped or non-finite value leaves the statistics as they were and nothing waits for the device.
    """

    def __init__(self, alpha: float, device: torch.device) -> None:
        self.alpha = alpha
        self.count = torch.zeros((), device=device)
        self.mean = torch.zeros((), device=device)
        self.var = torch.zeros((), device=device)

    def update(self, x: torch.Tensor, accept: torch.Tensor) -> None:
        x = x.to(self.mean.dtype)
        weight = torch.clamp(1.0 / (self.count + 1.0), min=1.0 - self.alpha)  # 1, 1/2, 1/3, …, then 1-alpha
        delta = torch.where(accept, x - self.mean, torch.zeros_like(x))
        mean = self.mean + weight * delta
        # West's weighted update: the EMA of squared deviations, exact for the running average too.
        var = (1.0 - weight) * (self.var + weight * delta * delta)
        self.mean = torch.where(accept, mean, self.mean)
        self.var = torch.where(accept, var, self.var)
        self.count = self.count + accept.to(self.count.dtype)

    def z(self, x: torch.Tensor, floor: float = 1e-12) -> torch.Tensor:
        """How many standard deviations `x` lies above the mean."""
        return (x.to(self.mean.dtype) - self.mean) / torch.sqrt(self.var + floor)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"count": self.count, "mean": self.mean, "var": self.var}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.count, self.mean, self.var = (state[k].to(self.mean.device) for k in ("count", "mean", "var"))
