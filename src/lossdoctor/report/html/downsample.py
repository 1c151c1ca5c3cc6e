"""Downsampling for display: a million points do not fit in a page, but every spike must stay visible.

Each bucket of consecutive points keeps its lowest and its highest point (so a one-step spike survives
any zoom-out), and every step a finding names is kept exactly, so its marker sits on the drawn curve.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: Buckets across the whole run: two points each, enough for a full-width plot on a wide screen.
DEFAULT_BUCKETS = 2500


def minmax_indices(values: np.ndarray, buckets: int = DEFAULT_BUCKETS) -> np.ndarray:
    """Sorted indices of the min and max of each of `buckets` equal slices; every index if that is fewer.

    Non-finite values are kept wherever they are: a NaN is the most important point of a run.
    """
    n = len(values)
    if n <= 2 * buckets:
        return np.arange(n)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    finite = np.isfinite(values)
    low = np.where(finite, values, np.inf)
    high = np.where(finite, values, -np.inf)
    lows = np.minimum.reduceat(low, edges[:-1])
    highs = np.maximum.reduceat(high, edges[:-1])
    bucket = np.repeat(np.arange(buckets), np.diff(edges))
    # The first index in each bucket that equals the bucket's min (max): grouped argmin without a loop.
    is_low = np.flatnonzero(low == lows[bucket])
    is_high = np.flatnonzero(high == highs[bucket])
    first_low = is_low[np.unique(bucket[is_low], return_index=True)[1]]
    first_high = is_high[np.unique(bucket[is_high], return_index=True)[1]]
    keep = [first_low, first_high, np.flatnonzero(~finite)]
    return np.unique(np.concatenate(keep))


def keep_steps(steps: np.ndarray, indices: np.ndarray, wanted: Iterable[int]) -> np.ndarray:
    """`indices` plus the index of every step in `wanted` that the series has."""
    wanted_arr = np.asarray(sorted(set(int(s) for s in wanted)), dtype=np.int64)
    if not len(wanted_arr) or not len(steps):
        return indices
    pos = np.searchsorted(steps, wanted_arr)
    inside = pos < len(steps)
    pos, wanted_arr = pos[inside], wanted_arr[inside]
    pos = pos[steps[pos] == wanted_arr]
    return np.unique(np.concatenate([indices, pos]))
