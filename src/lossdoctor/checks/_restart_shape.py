"""Warm restarts read from the loss alone: a kick up at each period's start, then a steady fall through it.

A log without its learning rate still shows a warm-restart schedule (SGDR, `CosineAnnealingWarmRestarts`,
`cosine_with_restarts`): each restart throws the loss up at once and it falls as the rate anneals, period after
period. Other epoch-periodic causes have other shapes: the re-exposure sawtooth climbs through the epoch, a model
left in eval mode steps down once at an evaluation, a short last batch is one point, and a fixed data order
repeats batch by batch (its fine profile correlates from epoch to epoch, which a smooth annealing fall does not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..epochs import EpochFold, evaluation_step_shape, realigned_at_drop
from ..signals import RunSignals

#: Share of the periods whose loss must fall from their first to their last part.
MIN_FALLING_SHARE = 0.8
#: The median fall must be at least this ratio (×1.25: a kick a plot shows) and this many standard errors.
MIN_FALL_RATIO = 1.25
MIN_FALL_SE = 4.0
#: Rank correlation of the shared profile with position at most this: a fall all through the period.
MAX_RANK_CORRELATION = -0.7
#: The largest fall between neighbouring parts of the profile may span at most this share of the profile's range:
#: an annealing fall is spread out, an eval-mode switch is one step (half the range and more in the catalogue's
#: loss-only leak runs, which the evaluations in other views show; a quarter in a real SGDR run).
MAX_ONE_STEP_SHARE = 0.4
#: Fine (position by position) correlation of consecutive periods below this: no repeated data order.
MAX_FINE_CORRELATION = 0.4
#: Parts each period is cut into, and the parts at each end that are compared.
BINS = 10
END_BINS = 3


@dataclass
class RestartShape:
    folded: EpochFold
    falling: int  # periods whose loss falls from their first parts to their last
    periods: int
    fall: float  # median fall (analysis units: decades for a positive loss)
    shape: np.ndarray  # the shared profile by tenths of the period


def restart_shape(sig: RunSignals) -> RestartShape | None:
    """The warm-restart shape in a log without an LR series, or None."""
    if sig.lr is not None or not sig.log_space:
        return None
    folded = sig.folded
    # Only a period the log does not mark: a fall that repeats with logged epochs is as well explained by what an
    # epoch brings (a model switched to eval mode at a fixed place, a fixed order), which a loss-only log cannot
    # rule out, while a schedule's own period need not match the epoch.
    if folded is None or folded.info.source != "inferred":
        return None
    folded = realigned_at_drop(folded, falling=True)
    if folded is None:
        return None
    val = sig.val
    if val is not None and evaluation_step_shape(folded, val.steps) is not None:
        return None  # evaluations inside every period: a mode switch there steps the loss down (eval_mode_leak)
    bins = int(min(BINS, folded.points_per_epoch))
    if bins < 2 * END_BINS:
        return None
    prof = folded.profile(bins)
    if folded.opens_training:
        prof = prof[1:]  # the run's first period holds the initial fall
    prof = prof[np.isfinite(prof).all(axis=1)]
    if len(prof) < 3:
        return None
    falls = np.mean(prof[:, :END_BINS], axis=1) - np.mean(prof[:, -END_BINS:], axis=1)
    fall = float(np.median(falls))
    points = max(1.0, END_BINS * folded.points_per_epoch / bins)
    se = folded.noise * np.sqrt(2 / points) / np.sqrt(len(falls))
    if np.mean(falls > 0) < MIN_FALLING_SHARE or fall < max(np.log10(MIN_FALL_RATIO), MIN_FALL_SE * se):
        return None
    shape = np.median(prof, axis=0)
    ranks = np.argsort(np.argsort(shape))
    if float(np.corrcoef(ranks, np.arange(bins))[0, 1]) > MAX_RANK_CORRELATION:
        return None
    steps = -np.diff(shape)
    if float(np.max(steps)) > MAX_ONE_STEP_SHARE * float(np.ptp(shape)):
        return None
    if folded.fine_correlation() >= MAX_FINE_CORRELATION:
        return None
    return RestartShape(folded, int(np.sum(falls > 0)), len(falls), fall, shape)
