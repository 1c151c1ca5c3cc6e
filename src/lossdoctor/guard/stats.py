"""Running statistics kept as device tensors: updated under a mask, never read on the host."""

from __future__ import annotations

import math

import torch

#: Values folded in before deviations are capped (the scale needs a few values to mean anything).
ROBUST_AFTER = 8
#: A deviation counts at most this many mean absolute deviations (a Huber-style cap).
CAP = 2.0
#: Standard deviation of a normal variable per unit of mean absolute deviation.
STD_PER_ABSDEV = math.sqrt(math.pi / 2)


class RunningMoments:
    """Robust running level, trend and scale of a scalar stream, updated only where a mask says so.

    The level and trend are Holt's double exponential smoothing, so a loss or gradient norm that falls
    (or rises) steadily is predicted, not lagged behind: an EMA's lag would count as deviation and
    inflate the scale. The first 1/(1-alpha) values get equal weights, later ones `1 - alpha`. The
    scale is a mean absolute deviation from the prediction, and once `ROBUST_AFTER` values are in,
    each deviation counts at most `CAP` scales: outliers that come every few steps (a few bad samples)
    cannot inflate the scale that judges the next one. `update` uses `torch.where` only, so a skipped
    or non-finite value leaves everything as it was, with no sync.
    """

    def __init__(self, alpha: float, device: torch.device, trend_weight: float = 0.1) -> None:
        self.alpha = alpha
        self.trend_weight = trend_weight
        self.count = torch.zeros((), device=device)
        self.level = torch.zeros((), device=device)
        self.trend = torch.zeros((), device=device)
        self.absdev = torch.zeros((), device=device)

    @property
    def mean(self) -> torch.Tensor:
        """The value expected next: the level plus a falling trend. A rising trend is not extrapolated:
        a gradient norm or loss that grows step after step is what the guard is there to catch."""
        return self.level + torch.clamp(self.trend, max=0.0)

    @property
    def std(self) -> torch.Tensor:
        return STD_PER_ABSDEV * self.absdev

    def update(self, x: torch.Tensor, accept: torch.Tensor) -> None:
        x = x.to(self.level.dtype)
        weight = torch.clamp(1.0 / (self.count + 1.0), min=1.0 - self.alpha)  # 1, 1/2, 1/3, …, then 1-alpha
        first = self.count < 1
        delta = torch.where(accept, x - self.mean, torch.zeros_like(x))
        cap = CAP * self.absdev
        capped = torch.where(self.count >= ROBUST_AFTER, torch.clamp(delta, -cap, cap), delta)
        level = torch.where(first, x, self.mean + weight * capped)
        trend = torch.where(first, self.trend, self.trend + self.trend_weight * weight * capped)
        absdev = torch.where(first, self.absdev, (1.0 - weight) * self.absdev + weight * capped.abs())
        self.level = torch.where(accept, level, self.level)
        self.trend = torch.where(accept, trend, self.trend)
        self.absdev = torch.where(accept, absdev, self.absdev)
        self.count = self.count + accept.to(self.count.dtype)

    def z(self, x: torch.Tensor, floor: float = 1e-12) -> torch.Tensor:
        """How many (robust) standard deviations `x` lies above the value expected next."""
        return (x.to(self.level.dtype) - self.mean) / (self.std + floor)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"count": self.count, "level": self.level, "trend": self.trend, "absdev": self.absdev}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        device = self.level.device
        self.count, self.level, self.trend, self.absdev = (
            state[k].to(device) for k in ("count", "level", "trend", "absdev"))
