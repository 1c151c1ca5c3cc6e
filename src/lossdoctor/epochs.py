"""The loss folded by position within the epoch: what the epoch-periodic checks compare.

Several causes repeat with the epoch (a spike at the short last batch, a profile that repeats because
the data are not shuffled, a level shift at mid-epoch evaluations, the re-exposure sawtooth). They
differ in *where* within the epoch the loss departs and *how*: one point or a level, a fixed or a
moving phase, a step or a ramp. This module folds the residual of the loss around an epoch-scale
trend (wide enough that within-epoch structure stays in the residual) into epochs × positions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .run import EPOCH
from .signals import EpochInfo, RunSignals, robust_std, rolling_median

#: Complete epochs needed before a periodic pattern can be told from chance.
MIN_EPOCHS = 3
#: Logged points per epoch needed to see a within-epoch shape.
MIN_POINTS_PER_EPOCH = 4
#: Share of the logged losses that may be NaN or inf for a period to be inferred from the rest: the finite points
#: of a mostly-NaN log are where a loss scaler happened to let a step through, and their gaps make periods.
MAX_NONFINITE_TO_INFER = 1 / 3


@dataclass
class EpochFold:
    """The run's loss residual, split into epochs and positions within them."""

    sig: RunSignals
    info: EpochInfo

    @cached_property
    def epoch(self) -> np.ndarray:
        """Epoch index of each finite loss point (0 = before the first known start)."""
        return np.searchsorted(self.info.starts, self.sig.steps, side="right")

    @cached_property
    def start_of(self) -> np.ndarray:
        """The start step of each point's epoch (extrapolated backwards for the first one)."""
        starts = np.concatenate([[self.info.starts[0] - self.info.length], self.info.starts])
        return starts[self.epoch]

    @cached_property
    def position(self) -> np.ndarray:
        """Position of each point within its epoch, as a fraction in [0, 1)."""
        return np.clip((self.sig.steps - self.start_of) / self.info.length, 0.0, 0.999999)

    @cached_property
    def points_per_epoch(self) -> float:
        gaps = np.diff(self.sig.steps)
        step = float(np.median(gaps)) if len(gaps) else 1.0
        return self.info.length / max(step, 1.0)

    @cached_property
    def complete(self) -> np.ndarray:
        """Epoch indices whose whole span is inside the log."""
        first, last = self.sig.steps[0], self.sig.steps[-1]
        idx = np.arange(1, len(self.info.starts))  # epoch k spans starts[k-1]..starts[k]
        spans = [(self.info.starts[k - 1], self.info.starts[k]) for k in idx]
        return np.array([k for k, (a, b) in zip(idx, spans, strict=True) if a >= first and b <= last + 1])

    @cached_property
    def residual(self) -> np.ndarray:
        """y minus a trend two epochs wide: within-epoch structure stays in the residual."""
        window = int(max(5, round(2 * self.points_per_epoch))) | 1
        return self.sig.y - rolling_median(self.sig.y, window)

    @cached_property
    def noise(self) -> float:
        """Step-to-step noise of the residual (robust), for standard errors of bin means."""
        return max(robust_std(np.diff(self.residual)) / np.sqrt(2), 1e-12)

    @property
    def usable(self) -> bool:
        # A diverging loss repeats the curvature of its climb in every epoch, not an order or a batch.
        return len(self.complete) >= MIN_EPOCHS and self.points_per_epoch >= MIN_POINTS_PER_EPOCH \
            and not self.sig.diverges

    @cached_property
    def row(self) -> np.ndarray:
        """Row of each point in the complete-epoch matrices (-1 for points outside complete epochs)."""
        lookup = np.full(len(self.info.starts) + 1, -1)
        lookup[self.complete] = np.arange(len(self.complete))
        return lookup[self.epoch]

    def profile(self, bins: int) -> np.ndarray:
        """Epochs × bins matrix of the mean residual (complete epochs only; NaN where empty). O(n)."""
        rows = len(self.complete)
        inside = self.row >= 0
        b = np.minimum((self.position[inside] * bins).astype(int), bins - 1)
        cell = self.row[inside] * bins + b
        sums = np.bincount(cell, weights=self.residual[inside], minlength=rows * bins)
        counts = np.bincount(cell, minlength=rows * bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        return out.reshape(rows, bins)

    @cached_property
    def opens_training(self) -> bool:
        """Whether the first complete epoch is the run's very first one (the log starts with training)."""
        if not len(self.complete):
            return False
        first_start = self.info.starts[self.complete[0] - 1]
        return bool(self.sig.steps[0] < self.info.length and first_start <= self.sig.steps[0] + 0.5 * self.info.length)

    def slopes(self, *, skip_first_training_epoch: bool = False) -> np.ndarray:
        """Least-squares slope of the residual against position, one per complete epoch (grouped sums).

        The run's first epoch can be left out: it holds the initial fall, which no trend follows well,
        and no sample in it has been seen before.
        """
        inside = self.row >= 0
        if skip_first_training_epoch and self.opens_training:
            inside &= self.row > 0
        r, x, y = self.row[inside], self.position[inside], self.residual[inside]
        size = len(self.complete)
        n = np.bincount(r, minlength=size).astype(float)
        sx, sy = np.bincount(r, x, size), np.bincount(r, y, size)
        sxx, sxy = np.bincount(r, x * x, size), np.bincount(r, x * y, size)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
        return slope[(n >= 4) & np.isfinite(slope)]

    def fine_correlation(self, own_amount_of: np.ndarray | None = None) -> float:
        """Median correlation of consecutive epochs' residuals position by position (later half of the
        run), after removing the smooth within-epoch shape: high only when the same batches come in the
        same order each epoch. `own_amount_of` (a shape over the positions, as fractions of the epoch's
        length) is also taken out of each epoch in the amount that epoch has of it: a mode switch that steps
        further in some epochs than in others is no repeated order."""
        bins = int(min(round(self.points_per_epoch), 400))
        if bins < MIN_POINTS_PER_EPOCH:
            return 0.0
        prof = self.profile(bins)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an empty position bin is normal
            shape = np.nanmedian(prof, axis=0)
        width = max(3, bins // 8)
        smooth = _moving_average(shape, width)
        few = bins < FEW_POSITIONS
        odd = _odd_positions(prof, smooth, clip=2.5 * self.noise if few else None)
        if not few:
            # the smooth shape is drawn without the odd positions: a spike in it would lift its neighbours'
            # smooth value alike in every epoch and leave them low together (a short last batch read as an order)
            smooth = _moving_average(np.where(odd, np.nan, shape), width)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an epoch with nothing logged is normal
            # each epoch centred on its own level first: an epoch the trend misses by more than the clip would
            # otherwise be clipped flat and correlate by its few unclipped points (red-team 16b r10)
            detail = prof - smooth
            detail = detail - np.nanmedian(detail, axis=1, keepdims=True)
        detail[:, odd] = np.nan
        if _rises(shape):
            # a re-exposure ramp steeper in some epochs than in others would correlate between neighbours: with
            # many positions each epoch's own line comes out (an order's imprint is finer than a line); with few,
            # a line would eat that imprint, so only each epoch's own amount of the shared smooth ramp does
            # (red-team 16a r08, 17b r05: shuffled sawtooths at 6 and 8 points)
            few_positions = bins < MIN_TILT_POSITIONS
            detail = _without_own_amount_of(detail, smooth) if few_positions else _without_own_tilt(detail)
        detail = np.clip(detail, -2.5 * self.noise, 2.5 * self.noise)
        if own_amount_of is not None:
            template = np.interp((np.arange(bins) + 0.5) / bins, np.linspace(0, 1, len(own_amount_of)),
                                 own_amount_of)
            detail = _without_own_amount_of(detail, template)
        # The later half of the run: while the model still learns fast the order's imprint changes from
        # epoch to epoch; once training settles, an unshuffled order repeats step for step.
        later = (len(detail) - 1) // 2
        corr = _pair_correlations(detail[later:-1], detail[later + 1 :])
        return float(np.median(corr)) if len(corr) else 0.0


def _odd_positions(prof: np.ndarray, smooth: np.ndarray, clip: float | None) -> np.ndarray:
    """Positions whose typical value departs far more than the others' from the smooth shape: a pattern at one
    or two positions (a short last batch, a mode switch) is no repeated order. Judged on the median over epochs
    before any clipping, which would bring a spike at a fixed position down to the others' size; with a
    handful of positions (`clip` given), on the mean of clipped values, as there the boundary between two
    blocks of sorted data is as odd as a short batch and only the one that departs most goes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an epoch or a position with nothing logged is normal
        detail = prof - smooth
        detail = detail - np.nanmedian(detail, axis=1, keepdims=True)
        centre = np.nanmedian(detail, axis=0) if clip is None else np.nanmean(np.clip(detail, -clip, clip), axis=0)
    odd = np.zeros(len(centre), dtype=bool)
    finite = np.isfinite(centre)
    if not finite.any():
        return odd
    odd[finite] = np.abs(centre[finite]) > 3 * max(robust_std(centre[finite]), 1e-12)
    if clip is not None:
        odd[int(np.nanargmax(np.abs(centre)))] = True
    return odd


def _moving_average(shape: np.ndarray, width: int) -> np.ndarray:
    """Moving average whose ends are padded with the end values, not zeros. Zero padding pulled both ends toward
    0, so a ramp's ends stayed in every epoch's residual alike and read as an order that repeats (red-team 16a
    r08, 16b r10: shuffled HF runs at 6 and 10 points per epoch). Padding by the line's own continuation was
    tried and is too lenient: it absorbs a whole end block of data sorted by class into the smooth shape."""
    positions = np.arange(len(shape))
    finite = np.isfinite(shape)
    if not finite.any():
        return np.zeros_like(shape)
    filled = np.interp(positions, positions[finite], shape[finite])
    half = min(width // 2, len(filled) - 1)
    if half < 1:
        return filled
    padded = np.pad(filled, half, mode="edge")
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.convolve(padded, kernel, mode="valid")


#: Positions per epoch below which the odd ones are judged as a handful (see `_odd_positions`).
FEW_POSITIONS = 8
#: Positions per epoch from which each epoch's own tilt is taken out before correlating (when the epochs
#: share a rising ramp): with fewer, a line fitted per epoch eats the fine structure an order leaves.
MIN_TILT_POSITIONS = 10
#: Rank correlation of the shared within-epoch shape with position that makes it a re-exposure ramp.
RAMP_RANK_CORRELATION = 0.5


def _rises(shape: np.ndarray) -> bool:
    """Whether the shared within-epoch shape climbs from start to end (the sawtooth's ramp)."""
    finite = np.isfinite(shape)
    if finite.sum() < 3:
        return False
    ranks = np.argsort(np.argsort(shape[finite]))
    return bool(np.std(ranks) and np.corrcoef(ranks, np.flatnonzero(finite))[0, 1] >= RAMP_RANK_CORRELATION)


def _without_own_amount_of(detail: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Each epoch's residual less its own amount of `shape` (least squares over the positions it has)."""
    centred = shape - shape.mean()
    filled = np.isfinite(detail)
    with np.errstate(all="ignore"):
        amount = (np.where(filled, detail, 0.0) * centred).sum(axis=1) / np.where(filled, centred**2, 0.0).sum(axis=1)
    return detail - np.nan_to_num(amount)[:, None] * centred


def _without_own_tilt(detail: np.ndarray) -> np.ndarray:
    """Each epoch's residual less its own straight-line tilt over the positions it has: a re-exposure ramp
    steeper in some epochs than the shared one would otherwise correlate between neighbours, while an
    order's imprint is finer than a line."""
    position = np.arange(detail.shape[1]) - (detail.shape[1] - 1) / 2
    filled = np.isfinite(detail)
    weights = filled.astype(float)
    with np.errstate(all="ignore"):
        mean = np.where(filled, detail, 0.0).sum(axis=1) / weights.sum(axis=1)
        x = np.where(filled, position - (weights * position).sum(axis=1)[:, None] / weights.sum(axis=1)[:, None], 0.0)
        tilt = (x * np.where(filled, detail - mean[:, None], 0.0)).sum(axis=1) / (x * x).sum(axis=1)
    return detail - np.nan_to_num(tilt)[:, None] * np.where(filled, x, 0.0)


def _pair_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The Pearson correlation of a[i] with b[i] over the positions both have, for each row with enough of them."""
    ok = np.isfinite(a) & np.isfinite(b)
    count = ok.sum(axis=1)
    a0, b0 = np.where(ok, a, 0.0), np.where(ok, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma, mb = a0.sum(axis=1) / count, b0.sum(axis=1) / count
        da, db = np.where(ok, a0 - ma[:, None], 0.0), np.where(ok, b0 - mb[:, None], 0.0)
        corr = (da * db).sum(axis=1) / np.sqrt((da * da).sum(axis=1) * (db * db).sum(axis=1))
    usable = (count >= MIN_POINTS_PER_EPOCH) & np.isfinite(corr)
    return corr[usable]


def infer_epochs(sig: RunSignals, *, min_excess: float | None = None) -> EpochInfo | None:
    """The epoch length the loss repeats with, when the log does not say: from the autocorrelation
    of the residual, else from how far folding at each candidate length stands out from the rest
    (`min_excess` lowers that bar for a check that tests a specific shape on top)."""
    length = _autocorrelation_period(sig) or _fold_periodogram_period(sig, min_excess or PERIODOGRAM_MIN_EXCESS)
    if length is None:
        return None
    length *= float(np.median(np.diff(sig.steps)))
    starts = np.arange(sig.steps[0], sig.steps[-1] + 1, length)
    return EpochInfo(length, np.round(starts).astype(np.int64), "inferred")


def _autocorrelation_period(sig: RunSignals) -> int | None:
    """The epoch length (in logged points) from the autocorrelation of the loss residual.

    A peak of the autocorrelation at lag P (well above what noise gives) means something repeats
    every P steps; the epoch is the only clock a training loop has at that scale. The phase is
    unknown: starts are placed at the first logged step, and checks that need the phase find it.
    """
    if sig.n < 6 * MIN_POINTS_PER_EPOCH:
        return None
    r = sig.y - rolling_median(sig.y, int(max(5, sig.n // 8)) | 1)
    r = np.clip(r - np.median(r), -5 * sig.noise, 5 * sig.noise)
    n = len(r)
    spectrum = np.fft.rfft(r - r.mean(), n=2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    if acf[0] <= 0:
        return None
    acf = acf / acf[0] * n / (n - np.arange(n))  # unbiased: the same weight at every lag
    low, high = MIN_POINTS_PER_EPOCH, n // MIN_EPOCHS
    if high <= low + 2:
        return None
    lag = int(low + np.argmax(acf[low:high]))
    # The peak must stand out from the noise floor of the autocorrelation (about 1/sqrt(n - lag)), and be a peak:
    # the autocorrelation must dip on the way to it. One still falling from lag 0 is slow wander (or a pattern
    # too long for the window that separates trend from residual), not a period.
    if acf[lag] < max(0.25, 4 / np.sqrt(n - lag)) or np.min(acf[1:lag]) > acf[lag] - 2 / np.sqrt(n - lag):
        return None
    # Prefer the fundamental: a peak at lag/k nearly as high means the period is lag/k (smallest first).
    # "Nearly": 80% of it, or within two noise levels of it (long lags rest on fewer pairs).
    for divisor in (6, 5, 4, 3, 2):
        sub = lag // divisor
        if sub < low:
            continue
        near = acf[sub - 1 : sub + 2].max()
        if near >= max(0.25, 4 / np.sqrt(n - sub)) and near >= min(0.8 * acf[lag], acf[lag] - 2 / np.sqrt(n - lag)):
            lag = sub + int(np.argmax(acf[sub - 1 : sub + 2])) - 1
            break
    return lag


#: Folding the loss at the run's own period must explain this many robust spreads more than folding
#: at a typical candidate length does: the run's own wander sets the bar, not a fixed chi-square.
#: On simulated noise (white, or with AR(1) wander) the best of all lengths reaches 6.5 in about one
#: run in 20; the checks that use the period test their own shape on top.
PERIODOGRAM_MIN_EXCESS = 6.5
#: The bar for a check that then demands one specific, consistent profile of its own (the
#: re-exposure ramp): with that test on top, loss-only noise runs (white, AR(1) wander, skewed,
#: shrinking) yield a sawtooth in about 3% of runs at this bar, against 0.3% at the shared one
#: (tests/test_epochs_null.py keeps it honest).
SHAPE_TESTED_MIN_EXCESS = 4.0
#: Above this many logged points the autocorrelation alone decides (the fold scan costs n per length).
PERIODOGRAM_MAX_POINTS = 6000
PERIODOGRAM_BINS = 8


def _fold_periodogram_period(sig: RunSignals, min_excess: float) -> int | None:
    """The length whose fold gives the loss the most repeatable within-epoch profile, if it stands out.

    A weak ramp or level change in every epoch hardly moves the autocorrelation at one lag, yet it
    adds up over every point of the fold. Slow wander inflates the fold statistic at every length
    alike, so each length is judged against the median over all candidate lengths.
    """
    n = sig.n
    low, high = 2 * MIN_POINTS_PER_EPOCH, n // (MIN_EPOCHS + 2)
    if n > PERIODOGRAM_MAX_POINTS or high < low + 8:
        return None
    lengths = np.arange(low, high + 1)
    y = sig.y
    sums = np.concatenate([[0.0], np.cumsum(y)])
    noise = robust_std(np.diff(y)) / np.sqrt(2)  # the step-to-step scatter hardly depends on the length
    if noise <= 0:
        return None
    stats = np.array([_fold_statistic(y, sums, int(p), noise) for p in lengths])
    centre = float(np.median(stats))
    spread = 1.4826 * float(np.median(np.abs(stats - centre)))
    if spread <= 0:
        return None
    excess = (stats - centre) / spread
    best = int(np.argmax(excess))
    if excess[best] < min_excess:
        return None
    # A fold at a multiple of the period repeats the profile and scores as well: take the fundamental.
    for divisor in (6, 5, 4, 3, 2):
        sub = round(float(lengths[best]) / divisor)
        near = np.flatnonzero(np.abs(lengths - sub) <= 1)
        if len(near) and excess[near].max() >= max(min_excess, 0.8 * excess[best]):
            return int(lengths[near[np.argmax(excess[near])]])
    return int(lengths[best])


def _fold_statistic(y: np.ndarray, sums: np.ndarray, length: int, noise: float) -> float:
    """Chi-square of the loss residual folded at `length` (bins of the within-epoch position).

    The residual is taken around a moving mean exactly one length wide (`sums` is the cumulative sum
    of `y`), which keeps a profile that repeats with that length whole and removes everything slower.
    """
    left = np.clip(np.arange(len(y)) - length // 2, 0, len(y) - length)
    residual = np.clip(y - (sums[left + length] - sums[left]) / length, -4 * noise, 4 * noise)
    inner = np.arange(length, len(y) - length)  # the moving mean is one-sided at the ends
    bins = min(PERIODOGRAM_BINS, length)
    phase = (inner % length) * bins // length
    counts = np.bincount(phase, minlength=bins)
    means = np.bincount(phase, residual[inner], bins) / np.maximum(counts, 1)
    return float(np.sum(counts * (means - residual[inner].mean()) ** 2) / noise**2)


def _with_edges(sig: RunSignals, info: EpochInfo) -> EpochInfo:
    """The epoch starts plus the start of the first epoch and the end of the last one when the log covers
    them whole: a log marks only the changes between epochs, so a 5-epoch run shows 4 starts and would
    leave 2 of its 5 epochs out of every comparison."""
    if not len(info.starts):
        return info
    length = round(info.length)
    first, last = int(sig.steps[0]), int(sig.steps[-1])
    gap = float(np.median(np.diff(sig.steps))) if sig.n > 1 else 1.0
    starts = info.starts
    opening = int(starts[0]) - length
    if first - gap <= opening <= first + gap:
        starts = np.concatenate([[opening], starts])
    closing = int(starts[-1]) + length
    if closing - 1 - gap <= last <= closing - 1 + gap:
        starts = np.concatenate([starts, [closing]])
    return EpochInfo(info.length, starts.astype(np.int64), info.source)


def mid_epoch_evaluations(folded: EpochFold, eval_steps: np.ndarray) -> dict[int, int]:
    """For each complete epoch, its first evaluation strictly inside it (not at its edges)."""
    out: dict[int, int] = {}
    length = folded.info.length
    starts = folded.info.starts
    for k in folded.complete:
        a, b = starts[k - 1], starts[k]
        inside = eval_steps[(eval_steps > a + 0.05 * length) & (eval_steps < b - 0.05 * length)]
        if len(inside):
            out[int(k)] = int(inside[0])
    return out


def evaluation_step_shape(folded: EpochFold, eval_steps: np.ndarray) -> np.ndarray | None:
    """0 before and 1 after where evaluations sit inside most epochs (by tenths of a percent of the epoch), or None.

    A model switched to eval mode there (and back at the next epoch start) shifts the loss level by an amount
    that differs from epoch to epoch: the epoch-periodic checks take that shape out before they look further.
    """
    firsts = mid_epoch_evaluations(folded, eval_steps)
    if len(firsts) < 3 or len(firsts) < len(folded.complete) / 2:
        return None
    starts = folded.info.starts
    where = float(np.median([(step - starts[k - 1]) / folded.info.length for k, step in firsts.items()]))
    return np.where(np.linspace(0.0, 1.0, 1000) < where, 0.0, 1.0)


def realigned_at_drop(folded: EpochFold, *, falling: bool = False) -> EpochFold | None:
    """An inferred fold shifted so that its epochs start where the mean profile falls and starts to rise (or, with
    `falling`, where it jumps up and starts to fall).

    An inferred period has no phase; a re-exposure sawtooth tells its own: the loss falls at once
    when the epoch starts and creeps up until the next start. A warm restart kicks the loss up at once, and it falls
    as the rate anneals.
    """
    bins = int(min(round(folded.points_per_epoch), 20))
    shape = np.nanmedian(folded.profile(bins), axis=0)
    if not np.isfinite(shape).all():
        return None
    # The start that makes the mean profile the best rising ramp: a template match over every bin,
    # steadier than the single largest fall between two noisy bins.
    ramp = (np.arange(bins) - (bins - 1) / 2) * (-1 if falling else 1)
    first = int(np.argmax([np.dot(np.roll(shape, -k), ramp) for k in range(bins)]))
    offset = first * folded.info.length / bins
    starts = np.round(folded.info.starts + offset).astype(np.int64)
    shifted = EpochFold(folded.sig, _with_edges(folded.sig, EpochInfo(folded.info.length, starts, "inferred")))
    return shifted if shifted.usable else None


def fold(sig: RunSignals, *, allow_inferred: bool = True, min_excess: float | None = None) -> EpochFold | None:
    """Fold the loss by the epochs the log gives, or inferred ones; None when neither works."""
    if sig.run.facts.step_unit == "epoch":
        return None
    info = sig.epochs
    # Infer only when the log says nothing about epochs: an epoch series that never changes (or a
    # stated epoch length beyond the run) means the run never finished one, so nothing can repeat.
    says_nothing = sig.run.get(EPOCH) is None and not sig.run.facts.steps_per_epoch
    loss = sig.run.get("loss")
    logged = loss.values if loss is not None else np.array([])
    mostly_finite = not len(logged) or np.mean(~np.isfinite(logged)) <= MAX_NONFINITE_TO_INFER
    if info is None and allow_inferred and says_nothing and mostly_finite:
        info = infer_epochs(sig, min_excess=min_excess)
    if info is None or info.length < 2:
        return None
    folded = EpochFold(sig, _with_edges(sig, info))
    return folded if folded.usable else None
