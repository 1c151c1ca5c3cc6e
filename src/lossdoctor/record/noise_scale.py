"""The gradient noise scale B_simple = tr(Σ)/|G|², from gradients measured at two batch sizes.

Why: "your batch is small" becomes "accumulate k steps". McCandlish et al. (2018, "An Empirical Model
of Large-Batch Training", appendix A.1) show that with the squared norms of a small-batch gradient
(|G_small|², batch B_small) and a large-batch one (|G_big|², batch B_big) of the same step,

    |G|²   ≈ (B_big·|G_big|² − B_small·|G_small|²) / (B_big − B_small)
    tr(Σ)  ≈ (|G_small|² − |G_big|²) / (1/B_small − 1/B_big)

are unbiased. Each is very noisy on its own, so numerator and denominator are averaged separately (an
exponential moving average) before their ratio is taken. Under DDP the small batch is one rank's share and
the large one the all-reduced batch; under gradient accumulation, one micro-batch and the accumulated step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class GradientNoiseScale:
    """EMA estimator of B_simple; feed it one (small, big) pair of squared gradient norms per step."""

    #: Weight of the newest pair in the moving averages (the paper's plots use about 0.05–0.1).
    alpha: float = 0.05
    trace_sigma: float = math.nan
    grad_sq: float = math.nan
    pairs: int = 0

    def update(self, small_sq: float, b_small: float, big_sq: float, b_big: float) -> float:
        """Add one pair; returns the current B_simple (NaN until both averages are positive)."""
        if not (b_big > b_small > 0) or not (math.isfinite(small_sq) and math.isfinite(big_sq)):
            return self.b_simple
        g_sq = (b_big * big_sq - b_small * small_sq) / (b_big - b_small)
        trace = (small_sq - big_sq) / (1.0 / b_small - 1.0 / b_big)
        if self.pairs == 0:
            self.grad_sq, self.trace_sigma = g_sq, trace
        else:
            self.grad_sq += self.alpha * (g_sq - self.grad_sq)
            self.trace_sigma += self.alpha * (trace - self.trace_sigma)
        self.pairs += 1
        return self.b_simple

    @property
    def b_simple(self) -> float:
        """tr(Σ)/|G|²: the batch size above which a larger batch stops helping much."""
        if not (self.grad_sq > 0 and self.trace_sigma > 0):
            return math.nan
        return self.trace_sigma / self.grad_sq
