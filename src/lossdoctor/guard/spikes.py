"""One definition of a loss spike, shared by every arm of `benchmarks/remedies.py` and by the tests.

A spike is a step whose log-loss rises well above the loss's recent level, the median of the
`window` steps before it: by at least `z` times the step-to-step noise of the log-loss (a robust std
of its differences / √2) and by at least `min_ratio`×. The baseline looks only backwards, so a bump that
builds up over several steps after a bad update (momentum carrying it on) is caught, not absorbed
into a centred median. Consecutive spike steps (gaps of up to `merge` steps) are one event; a
non-finite loss is a spike. Torch-free.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..signals import robust_std

#: Steps of recent history the baseline is the median of.
WINDOW = 30
#: Steps of history needed before a step can be called a spike.
MIN_HISTORY = 5


@dataclass(frozen=True)
class SpikeCount:
    events: int
    steps: np.ndarray  # the first step index of each event
    diverged: bool  # the series ends non-finite


def trailing_median(x: np.ndarray, window: int) -> np.ndarray:
    """Median of x[max(0, t-window):t] for every t (NaN where there is no history)."""
    n = len(x)
    padded = np.concatenate([np.full(window, np.nan), x])
    views = np.lib.stride_tricks.sliding_window_view(padded[:-1], window)  # row t: x[t-window:t]
    out = np.full(n, np.nan)
    have = np.minimum(np.arange(n), window) >= MIN_HISTORY
    if have.any():
        with warnings.catch_warnings():  # a window of only NaN (a diverged run) has no median: NaN is right
            warnings.simplefilter("ignore", RuntimeWarning)
            out[have] = np.nanmedian(views[have], axis=1)
    return out


def count_spikes(values: np.ndarray, *, z: float = 6.0, min_ratio: float = 1.25, merge: int = 2,
                 window: int = WINDOW) -> SpikeCount:
    """Spike events in a loss series (see the module docstring)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return SpikeCount(0, np.array([], dtype=np.int64), False)
    finite = np.isfinite(values) & (values > 0)
    logs = np.where(finite, np.log(np.where(finite, values, 1.0)), np.nan)
    spike = ~np.isfinite(values)
    if finite.sum() > MIN_HISTORY:
        noise = robust_std(np.diff(logs[finite])) / np.sqrt(2)
        rise = logs - trailing_median(logs, window)
        with np.errstate(invalid="ignore"):
            spike |= finite & (rise > max(z * noise, np.log(min_ratio)))
    idx = np.flatnonzero(spike)
    if len(idx) == 0:
        return SpikeCount(0, idx, False)
    starts = idx[np.concatenate([[True], np.diff(idx) > merge + 1])]
    return SpikeCount(len(starts), starts, bool(not np.isfinite(values[-1])))
