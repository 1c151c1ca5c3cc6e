"""One burst of gradient blow-ups after a long stable phase, which threw the loss off (and it survived).

A run that trains steadily and then, at one point, sees its gradient norm jump ten-fold with the loss
jumping after it has met a cliff of the loss surface: the exploding gradient of a recurrent net without
clipping. A learning rate too high shows from the start instead (the loss never settles, the norm grows),
so the burst must come after a stable stretch of at least a quarter of the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..signals import RunSignals

#: The blow-up: the gradient norm at this many times its median over the points before.
BURST_RATIO = 10.0
#: ...which it never reached before (the stable phase stays below this multiple of the same level).
STABLE_RATIO = 30.0
#: The stable phase before the burst, as a share of the run's gradient-norm points.
MIN_STABLE_SHARE = 0.25
#: The loss must show the blow-up: its peak within PEAK_POINTS after it at this multiple of its level before.
MIN_LOSS_JUMP = 3.0
PEAK_POINTS = 10
#: ...and stand out from the run's own step-to-step noise by this many robust stds (a heavy-tailed per-step
#: loss, a DPO run's, jumps ×8 by chance)...
MIN_JUMP_NOISE = 4.0
#: ...and stay up: the median of those points at least this multiple of the level before (the weights were
#: thrown off, not one batch).
MIN_STAYS_UP = 2.0


@dataclass
class Burst:
    step: int  # the step whose gradient norm blew up
    ratio: float  # the gradient norm there, as a multiple of its level before
    level: float  # that level (median of the points before)
    loss_before: float  # the loss's median over the points before
    loss_peak: float  # the largest loss within PEAK_POINTS after
    loss_after: float | None  # the loss's median a window later, once the burst is over (None: run ended)
    earlier_ratio: float = 0.0  # the largest gradient norm before the burst, as a multiple of the same level
    earlier_step: int = 0  # ...and its step


def gradient_burst(sig: RunSignals) -> Burst | None:
    """The first ten-fold blow-up of the gradient norm after a stable quarter of the run, when the loss jumps
    at least ×3 right after it, beyond its own noise, and stays up (positive losses only: the jump is a ratio)."""
    grad = sig.grad_norm
    if grad is None or not sig.log_space or (sig.run.facts.loss_window or 1) > 1:
        return None
    keep = np.isfinite(grad.values) & (grad.values > 0)
    steps, values = grad.steps[keep], np.log10(grad.values[keep])
    n = len(values)
    window = max(20, n // 10)
    if n < 4 * window:
        return None
    level_at = _trailing_level(values, window)
    highest = np.maximum.accumulate(values)  # the largest norm up to each point
    over = np.flatnonzero(values - level_at > np.log10(BURST_RATIO))
    if not len(over):
        return None
    b = int(over[0])  # the first: a blow-up that recurs (every epoch, at random) is no single burst
    found = _burst_at(sig, steps, values, highest, b, float(level_at[b]), window)
    if found is not None or b >= MIN_STABLE_SHARE * n:
        return found
    # One small episode while the run still settled (before its stable quarter) is no recurrence: the first
    # exceedance after the stable quarter is the burst, when just that one episode came before it.
    later = over[over >= MIN_STABLE_SHARE * n]
    episodes_before = int(np.sum(np.diff(over[over < MIN_STABLE_SHARE * n]) > window)) + 1
    if not len(later) or episodes_before > 1:
        return None
    b = int(later[0])
    return _burst_at(sig, steps, values, highest, b, float(level_at[b]), window)


def _burst_at(sig: RunSignals, steps: np.ndarray, values: np.ndarray, highest: np.ndarray, b: int, level: float,
              window: int) -> Burst | None:
    """The blow-up at gradient point `b` as a Burst, if the run was stable before it and the loss shows it."""
    if b < MIN_STABLE_SHARE * len(values) or highest[b - 1] - level > np.log10(STABLE_RATIO):
        return None
    at = int(np.searchsorted(sig.steps, steps[b]))
    if at < window or at >= sig.n:
        return None
    before = float(np.median(sig.y[at - window:at]))
    peak = float(np.max(sig.y[at:at + PEAK_POINTS]))
    if peak - before < max(np.log10(MIN_LOSS_JUMP), MIN_JUMP_NOISE * sig.step_noise):
        return None
    if np.median(sig.y[at:at + PEAK_POINTS]) - before < np.log10(MIN_STAYS_UP):
        return None
    later = sig.y[at + window: at + 3 * window]
    after = float(10 ** np.median(later)) if len(later) >= window else None
    top = int(np.argmax(values[:b]))
    return Burst(int(steps[b]), float(10 ** (values[b] - level)), float(10**level), float(10**before),
                 float(10**peak), after, float(10 ** (values[top] - level)), int(steps[top]))


#: Blocks the trailing window is cut into (their medians' median stands for the window's median).
BLOCKS = 16


def _trailing_level(values: np.ndarray, window: int) -> np.ndarray:
    """The median of about the `window` points before each point, in O(n): medians of blocks of window/16
    points, then the median of the 16 blocks before each one (+inf before there are 16)."""
    size = max(1, window // BLOCKS)
    blocks = len(values) // size
    medians = np.median(values[: blocks * size].reshape(blocks, size), axis=1)
    level = np.full(blocks + 1, np.inf)
    if blocks >= BLOCKS:
        level[BLOCKS:] = np.median(np.lib.stride_tricks.sliding_window_view(medians, BLOCKS), axis=1)
    return level[np.minimum(np.arange(len(values)) // size, blocks)]
