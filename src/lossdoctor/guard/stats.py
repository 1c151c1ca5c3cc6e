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
#: The rows of `RunningMoments.table`.
FIELDS = ("count", "level", "trend", "absdev")


class RunningMoments:
    """Robust running level, trend and scale of `streams` scalar streams, updated only where a mask says so.

    The level and trend are Holt's double exponential smoothing, so a loss or gradient norm that falls
    (or rises) steadily is predicted, not lagged behind: an EMA's lag would count as deviation and
    inflate the scale. The first 1/(1-alpha) values get equal weights, later ones `1 - alpha`. The
    scale is a mean absolute deviation from the prediction, and once `ROBUST_AFTER` values are in,
    each deviation counts at most `CAP` scales: outliers that come every few steps (a few bad samples)
    cannot inflate the scale that judges the next one. `update` uses `torch.where` only, so a skipped
    or non-finite value leaves everything as it was, with no sync.

    All streams live in one (4, streams) tensor (`FIELDS` are its rows), so one update costs the same
    ~20 small tensor operations for the guard's two streams (gradient norm, log-loss) as for one: on
    a CPU each operation costs microseconds whatever its size.
    """

    def __init__(self, alpha: float, device: torch.device, trend_weight: float = 0.1, streams: int = 1) -> None:
        self.alpha = alpha
        self.trend_weight = trend_weight
        self.table = torch.zeros(len(FIELDS), streams, device=device)

    @property
    def count(self) -> torch.Tensor:
        return self.table[0]

    @property
    def level(self) -> torch.Tensor:
        return self.table[1]

    @property
    def trend(self) -> torch.Tensor:
        return self.table[2]

    @property
    def absdev(self) -> torch.Tensor:
        return self.table[3]

    @property
    def mean(self) -> torch.Tensor:
        """The value expected next: the level plus a falling trend. A rising trend is not extrapolated:
        a gradient norm or loss that grows step after step is what the guard is there to catch."""
        return self.level + torch.clamp(self.trend, max=0.0)

    @property
    def std(self) -> torch.Tensor:
        return STD_PER_ABSDEV * self.absdev

    def update(self, x: torch.Tensor, accept: torch.Tensor, mean: torch.Tensor | None = None) -> None:
        """Fold `x` (one value per stream) in where `accept`; `mean` is `self.mean` if already computed."""
        count, _, trend, absdev = self.table.unbind(0)
        mean = self.mean if mean is None else mean
        x = x.to(self.table.dtype)
        weight = torch.clamp(1.0 / (count + 1.0), min=1.0 - self.alpha)  # 1, 1/2, 1/3, …, then 1-alpha
        delta = x - mean
        cap = CAP * absdev
        capped = torch.where(count >= ROBUST_AFTER, torch.clamp(delta, -cap, cap), delta)
        # The first value sets the level (mean is 0 and the weight 1 then); trend and scale start later.
        later = weight * (count >= 1)
        updated = torch.stack([count + 1.0, mean + weight * capped, trend + self.trend_weight * later * capped,
                               (1.0 - later) * absdev + later * capped.abs()])
        self.table = torch.where(accept, updated, self.table)

    def z(self, x: torch.Tensor, floor: float = 1e-12) -> torch.Tensor:
        """How many (robust) standard deviations `x` lies above the value expected next."""
        return (x.to(self.table.dtype) - self.mean) / (self.std + floor)

    def state_dict(self, stream: int = 0) -> dict[str, torch.Tensor]:
        return {name: self.table[i, stream].clone() for i, name in enumerate(FIELDS)}

    def load_state_dict(self, state: dict[str, torch.Tensor], stream: int = 0) -> None:
        table = self.table.clone()
        for i, name in enumerate(FIELDS):
            table[i, stream] = torch.as_tensor(state[name]).to(table)
        self.table = table
