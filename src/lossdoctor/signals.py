"""Signal analysis shared by the checks: trend, residual, noise, spikes, epochs and phase.

Everything here is computed from the run's own series, so thresholds in the checks can be stated as
multiples of the run's own noise rather than as absolute numbers. Each property is computed on first
use and cached, so a check pays only for what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .run import BATCH_SIZE, EPOCH, GRAD_NORM, LR, VAL_LOSS, Run, Series

#: A residual this many robust standard deviations above the trend is a spike.
SPIKE_Z = 6.0
#: Fewer finite loss points than this and no verdict can be given.
MIN_POINTS = 12


def robust_std(x: np.ndarray) -> float:
    """Standard deviation estimated from the median absolute deviation (immune to spikes)."""
    if len(x) == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def rolling_median(y: np.ndarray, window: int) -> np.ndarray:
    """Median trend in O(n): medians of half-overlapping blocks, linearly interpolated.

    A true rolling median costs n·w; this keeps a 1,000,000-step log well under a second while a
    spike narrower than half the window still cannot move the trend.
    """
    return rolling_quantile(y, window, 0.5)


def rolling_quantile(y: np.ndarray, window: int, q: float) -> np.ndarray:
    """Rolling `q` quantile the way `rolling_median` takes the median: a low one is a lower envelope that
    excursions covering most of a window still cannot lift."""
    n = len(y)
    if n == 0:
        return y.copy()
    window = max(3, min(window, n))
    stride = max(1, window // 2)
    starts = np.arange(0, max(1, n - window + 1), stride)
    if starts[-1] + window < n:
        starts = np.append(starts, n - window)
    if len(starts) * window <= 4_000_000:
        blocks = y[starts[:, None] + np.arange(window)[None, :]]
        medians = np.quantile(blocks, q, axis=1)
    else:
        medians = np.array([np.quantile(y[s : s + window], q) for s in starts])
    centres = starts + (window - 1) / 2.0
    return np.interp(np.arange(n), centres, medians)


#: Share of the run's largest LR an LR jump must change the rate by (a fourth ×0.5 step still changes it 6%).
MIN_LR_JUMP_OF_PEAK = 0.01
#: Decades above its lowest tenth at which a loss that ends there is diverging (see RunSignals.diverges).
DIVERGING_DECADES = 1.0


def trend_window(n: int) -> int:
    """Window for the trend: wide enough to ignore spikes, narrow enough to follow a falling loss."""
    return int(np.clip(n // 60, 7, 301)) | 1


@dataclass
class EpochInfo:
    """Where epochs start, in steps, and how that was learned."""

    length: float
    starts: np.ndarray
    source: str  # "epoch series", "run facts" or "inferred"


#: A residual whose lag-1 autocorrelation is at least this, and at least MEMORY_SE standard errors of a white
#: series (1/sqrt(n)), has memory. Detrending biases white noise low (around -0.1), so this is a clear margin.
MEMORY_AUTOCORR = 0.12
MEMORY_SE = 3.0


class RunSignals:
    """Signals of one run's loss (and the other series checks consult)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        loss = run.loss
        self.all_steps = loss.steps
        #: Steps whose logged 0.0 stands for a NaN/inf that a filtering logger hid (HF's NaN filter).
        self.hidden_nan_steps = np.array([], dtype=np.int64)
        values = loss.values
        if run.facts.nan_filtered:
            hidden = _nan_logged_as_zero(values) | _zero_with_nonfinite_gradient(loss, run.get("grad_norm"))
            if hidden.any():
                self.hidden_nan_steps = loss.steps[hidden]
                values = np.where(hidden, np.nan, values)
        self.all_values = values
        finite = np.isfinite(values)
        self.nonfinite_steps = loss.steps[~finite]
        self.steps = loss.steps[finite]
        self.values = values[finite]
        #: Smallest positive loss, used in place of exact zeros: a log that rounds (HF keeps 4
        #: decimals) writes a loss below its precision as 0, which is "tiny", not "exactly zero".
        self.zero_floor: float | None = None
        positive = self.values[self.values > 0]
        if len(positive) and np.all(self.values >= 0) and len(positive) < len(self.values) \
                and _zeros_are_rounded(self.values, float(positive.min())):
            self.zero_floor = float(positive.min()) / 2
            self.values = np.where(self.values > 0, self.values, self.zero_floor)

    # -- basic shape -------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.values)

    @cached_property
    def log_space(self) -> bool:
        """Positive losses are analysed as log10: spikes and noise are then relative, as people see them."""
        return bool(self.n and np.all(self.values > 0))

    @cached_property
    def y(self) -> np.ndarray:
        return np.log10(self.values) if self.log_space else self.values.astype(np.float64)

    @cached_property
    def trend(self) -> np.ndarray:
        return rolling_median(self.y, trend_window(self.n))

    @cached_property
    def residual(self) -> np.ndarray:
        return self.y - self.trend

    @cached_property
    def noise(self) -> float:
        """Global robust std of the residual, floored so that a perfectly smooth curve has no 'spikes'."""
        scale = robust_std(self.residual)
        floor = 1e-9 if self.log_space else 1e-9 * max(1.0, float(np.median(np.abs(self.y))))
        return max(scale, floor)

    @cached_property
    def step_noise(self) -> float:
        """Robust std of step-to-step noise from first differences: needs no trend estimate."""
        return max(robust_std(np.diff(self.y)) / np.sqrt(2), 1e-12) if self.n > 2 else 0.0

    def segments(self, count: int = 10) -> tuple[np.ndarray, float]:
        """Medians of y over `count` equal consecutive segments, and the standard error of each."""
        size = max(1, self.n // count)
        used = size * min(count, self.n)
        medians = np.median(self.y[:used].reshape(-1, size), axis=1)
        return medians, 1.25 * self.step_noise / np.sqrt(size)

    @cached_property
    def diverges(self) -> bool:
        """Whether the loss ends DIVERGING_DECADES or more above its lowest tenth (a positive loss only).

        A climb that steep leaves its own curvature and jumps in every epoch, which the epoch-periodic checks
        would read as a repeated order or a short batch; the climb is the story (lr_too_high tells it).
        """
        if not self.log_space or self.n < 10:
            return False
        medians, _ = self.segments(10)
        return bool(medians[-1] - medians.min() >= DIVERGING_DECADES)

    @cached_property
    def local_noise(self) -> np.ndarray:
        """Robust std of the residual around each point: noise changes as training goes on."""
        window = max(31, trend_window(self.n) * 4) | 1
        local = 1.4826 * rolling_median(np.abs(self.residual), window)
        return np.maximum(local, 0.25 * self.noise)

    @cached_property
    def z(self) -> np.ndarray:
        return self.residual / self.local_noise

    @cached_property
    def spike_idx(self) -> np.ndarray:
        """Indices of upward spikes (local residual above SPIKE_Z robust stds)."""
        return np.flatnonzero(self.z > SPIKE_Z)

    def level(self, i: int | np.ndarray) -> np.ndarray | float:
        """The trend at index i, back in loss units."""
        t = self.trend[i]
        return 10**t if self.log_space else t

    # -- other series ------------------------------------------------------------------------------
    def series(self, name: str) -> Series | None:
        found = self.run.get(name)
        return found.finite() if found is not None else None

    def at_loss_steps(self, name: str) -> np.ndarray | None:
        """Series `name` sampled at the finite loss steps (last known value at or before each step)."""
        found = self.series(name)
        if found is None or len(found) == 0:
            return None
        idx = np.searchsorted(found.steps, self.steps, side="right") - 1
        out = np.full(self.n, np.nan)
        ok = idx >= 0
        out[ok] = found.values[idx[ok]]
        return out

    @cached_property
    def batch_sizes(self) -> np.ndarray | None:
        found = self.series(BATCH_SIZE)
        if found is None or len(found) < self.n // 2:
            return None
        return self.at_loss_steps(BATCH_SIZE)

    @cached_property
    def nominal_batch_size(self) -> float | None:
        if self.batch_sizes is not None:
            return float(np.nanmax(self.batch_sizes)) if np.isfinite(self.batch_sizes).any() else None
        return float(self.run.facts.batch_size) if self.run.facts.batch_size else None

    @cached_property
    def val(self) -> Series | None:
        return self.series(VAL_LOSS)

    @cached_property
    def lr(self) -> Series | None:
        return self.series(LR)

    @cached_property
    def grad_norm(self) -> Series | None:
        return self.series(GRAD_NORM)

    # -- epochs ------------------------------------------------------------------------------------
    @cached_property
    def epochs(self) -> EpochInfo | None:
        """Epoch starts from the epoch series, else from the facts; None when the log does not say."""
        if self.run.facts.step_unit == "epoch" or self.n < 2:
            return None
        from_series = self._epochs_from_series()
        if from_series is not None:
            return from_series
        length = self.run.facts.steps_per_epoch
        if length and length >= 2:
            first, last = int(self.steps[0]), int(self.steps[-1])
            starts = np.arange(first, last + 1, length)
            return EpochInfo(float(length), np.round(starts).astype(np.int64), "run facts")
        return None

    def _epochs_from_series(self) -> EpochInfo | None:
        found = self.series(EPOCH)
        if found is None or len(found) < 4:
            return None
        whole = np.floor(found.values + 1e-6)
        change = np.flatnonzero(np.diff(whole) > 0) + 1
        if len(change) < 1:
            return None
        # Where the epoch value crosses each whole number, by linear interpolation between the two
        # logged points around it: a log written every few steps (HF's logging_steps) with fractional
        # epochs still places each start to the step, and the epoch length is not rounded to the
        # logging interval.
        e0, e1 = found.values[change - 1], found.values[change]
        s0, s1 = found.steps[change - 1].astype(float), found.steps[change].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.clip((whole[change] - e0) / (e1 - e0), 0.0, 1.0)
        exact = np.where(np.isfinite(fraction), s0 + fraction * (s1 - s0), s1)
        # Fractional values count epochs done (HF: epoch = step / steps_per_epoch), so the step that
        # reaches k closes epoch k and the next one opens k + 1; whole labels name the epoch a step is in.
        if np.any(np.abs(found.values - np.round(found.values)) > 1e-6):
            exact = exact + 1
        if len(exact) >= 2:
            length = float(np.median(np.diff(exact)))
            # Logged every few steps, each start is seen up to one interval late, so gaps alternate (60, 70,
            # 60 … for 63-step epochs logged every 10): the whole span over the epochs it holds is exact.
            epochs_spanned = int(np.sum(np.maximum(1, np.round(np.diff(exact) / length)))) if length > 0 else 0
            if epochs_spanned >= 2:
                length = float((exact[-1] - exact[0]) / epochs_spanned)
        else:
            length = float(exact[0] - found.steps[0]) if exact[0] > found.steps[0] else 0.0
        if length < 2:
            return None
        return EpochInfo(length, np.round(exact).astype(np.int64), "epoch series")

    def infer_period(self, idx: np.ndarray, *, search: bool = False) -> tuple[int, float] | None:
        """A period (in steps) that spacing of the events at `idx` keeps, and the share that keeps it.

        The median gap, or with `search` the gap that most gaps are whole multiples of (for events that skip
        periods; more candidates also fit random events more often, so only where the events are strong)."""
        if len(idx) < 3:
            return None
        spots = self.steps[idx]
        gaps = np.diff(spots)
        gaps = gaps[gaps > 1]
        if len(gaps) < 2:
            return None
        # Gaps may skip an epoch where a spike was too small to pass the threshold, so the period is the
        # smallest gap that most gaps are whole multiples of (the median gap, with epochs skipped, is not).
        # Judged by the share above what chance gives (a short period is a multiple of anything, give or take
        # the one-step tolerance); a shorter period must do clearly better to win.
        median = int(np.median(gaps))
        candidates = sorted({int(g) for g in gaps if g >= max(2, median // 8)})[:20] if search else []
        best: tuple[int, float, float] | None = None
        for period in [*candidates, median]:
            if period < 2:
                continue
            share = _share_of_multiples(gaps, period)
            excess = share - min(1.0, (2 * max(1.0, 0.01 * period) + 1) / period)
            if best is None or excess > best[2] + 0.1:
                best = (period, share, excess)
        return (best[0], best[1]) if best is not None else None

    @cached_property
    def folded(self):  # -> EpochFold | None (import kept local: epochs builds on this module)
        """The loss folded by epoch (given or inferred), or None when the log cannot support it."""
        from .epochs import fold

        return fold(self)

    @cached_property
    def lr_jumps(self) -> list[tuple[int, float, float]]:
        """(step, lr before, lr after) where the logged LR jumps rather than glides.

        A jump is a change of at least ×1.5 between two logged points that is also far larger than
        the changes around it, so warmup and the steep tail of a cosine are not jumps.
        """
        lr = self.lr
        if lr is None or len(lr) < 5 or np.any(lr.values <= 0):
            return []
        d = np.abs(np.diff(np.log10(lr.values)))
        found = []
        for i in np.flatnonzero(d >= np.log10(1.5)):
            around = np.concatenate([d[max(0, i - 5) : i], d[i + 1 : i + 6]])
            if not len(around) or d[i] > 5 * float(np.median(around)):
                found.append(int(i))
        # Changes on neighbouring logged points are one event seen through the logging interval: the last step
        # of a cosine cycle (1e-5 → 2e-6, a large ratio of tiny rates) right before its restart (→ 8e-3).
        jumps: list[tuple[int, float, float]] = []
        for group in np.split(np.array(found, dtype=int), np.flatnonzero(np.diff(found) > 1) + 1) if found else []:
            first, last = int(group[0]), int(group[-1])
            main = int(group[np.argmax(d[group])])
            before, after = float(lr.values[first]), float(lr.values[last + 1])
            # a large ratio of tiny rates (a cosine's last steps into 0, with no restart after) moves nothing
            negligible = abs(after - before) < MIN_LR_JUMP_OF_PEAK * float(lr.values.max())
            if abs(np.log10(after / before)) >= np.log10(1.5) and not negligible:
                jumps.append((int(lr.steps[main + 1]), before, after))
        return jumps

    def level_shift(self, i: int, before: int, after: int, gap: int = 0) -> tuple[float, float] | None:
        """Change of the loss level at point i: local straight-line fits on each side, weighted towards i and
        compared there (each side's spikes clipped about its own robust line). The `gap` points just before i
        belong to neither side (a point whose rate is not known).

        Fitting lines (not medians) keeps a falling trend from passing for a jump. Returns
        (change, standard error) in analysis units, or None when either side is too short.
        """
        lo, hi = max(0, i - before), min(self.n, i + after)
        if i - gap - lo < 4 or hi - i < 4:
            return None
        t = (np.arange(lo, hi) - i).astype(float)
        fits = []
        for mask in (t < -gap, t >= 0):
            fits.append(_line_at_edge(t[mask], _clipped_about_line(self.y[lo:hi][mask], self.step_noise)))
        (a0, s0), (a1, s1) = fits
        return float(a1 - a0), float(np.hypot(s0, s1))

    def slope_change(self, i: int, width: int, gap: int = 0) -> tuple[float, float, float] | None:
        """The loss's slope over `width` points before i (leaving out the `gap` points just before it) and over
        `width` points from i (straight-line fits, points clipped at four noise levels of each side's robust
        line), with the standard error of their difference; per logged point.

        Catches a turn: a loss that climbed or stalled at a high LR and falls once it drops, which leaves
        no step in the level where the two lines meet. None when a side has fewer than 8 points.
        """
        lo, hi = i - gap - width, i + width
        if width < 8 or lo < 0 or hi > self.n:
            return None
        t = np.arange(width, dtype=float)
        fits, pairs = [], []
        sides = (self.y[lo : i - gap], self.y[i:hi])
        for part in (_clipped_about_line(side, self.step_noise) for side in sides):
            slope, intercept = np.polyfit(t, part, 1)
            resid = part - (slope * t + intercept)
            sigma = max(robust_std(resid), 1e-12)
            fits.append((float(slope), sigma / np.sqrt(float(np.sum((t - t.mean()) ** 2)))))
            pairs.append(np.stack([resid[:-1], resid[1:]]))
        (s0, e0), (s1, e1) = fits
        # Wander that carries over from step to step (slower than the run's trend window sees) makes neighbouring
        # points less than independent: the usual AR(1) widening of a slope's standard error, from the lag-1
        # autocorrelation of the two fits' residuals.
        lagged = np.concatenate(pairs, axis=1)
        rho = float(np.corrcoef(lagged)[0, 1]) if np.std(lagged[0]) and np.std(lagged[1]) else 0.0
        rho = min(max(rho, 0.0), 0.9)
        return s0, s1, float(np.hypot(e0, e1) * np.sqrt((1 + rho) / (1 - rho)))

    def course_change(self, i: int, before: int, after: int, gap: int = 0) -> tuple[float, float] | None:
        """Does the loss leave its course at point i? Rank test of the detrended points after vs before.

        The trend is a robust slope from the points before i (medians of their two halves), so a steady
        fall does not count; the points after i, detrended by it, are compared with the points before
        by a Mann-Whitney test, which heavy-tailed batch noise does not fool. Returns (z, shift of the
        median) in analysis units (z < 0: lower than the course predicted), or None when a side has
        fewer than 8 points. Catches a staircase step and a plateau that starts falling again. The `gap`
        points just before i belong to neither side.
        """
        lo, hi = max(0, i - before), min(self.n, i + after)
        k = i - gap - lo
        if k < 8 or hi - i < 8:
            return None
        keep = np.r_[lo : i - gap, i:hi]
        y, t = self.y[keep], (keep - i).astype(float)
        half = k // 2
        run_ = float(np.median(t[half:k]) - np.median(t[:half]))
        slope = float(np.median(y[half:k]) - np.median(y[:half])) / run_ if run_ else 0.0
        resid = y - slope * t
        a, b = resid[:k], resid[k:]
        ranks = np.argsort(np.argsort(resid)) + 1.0
        na, nb = len(a), len(b)
        u = float(ranks[k:].sum()) - nb * (nb + 1) / 2
        z = (u - na * nb / 2) / np.sqrt(na * nb * (na + nb + 1) / 12)
        return float(z), float(np.median(b) - np.median(a))

    # -- trend summaries ---------------------------------------------------------------------------
    @cached_property
    def lag1_autocorr(self) -> float:
        """Lag-1 autocorrelation of the residual: near 0 for white (batch-sampling) noise."""
        r = np.clip(self.residual, -5 * self.noise, 5 * self.noise)
        if len(r) < 3 or np.std(r) == 0:
            return 0.0
        return float(np.corrcoef(r[:-1], r[1:])[0, 1])

    @cached_property
    def has_memory(self) -> bool:
        """Whether the scatter carries over from step to step (see MEMORY_AUTOCORR): batch sampling noise
        has none, while weights that are knocked off and relax back over several steps give it."""
        return self.n >= 20 and self.lag1_autocorr >= max(MEMORY_AUTOCORR, MEMORY_SE / np.sqrt(self.n))


def _share_of_multiples(gaps: np.ndarray, period: int) -> float:
    """Share of the gaps that are a whole number (at least one) of periods, within a step or 1%."""
    multiples = gaps / period
    kept = np.abs(multiples - np.round(multiples)) * period <= max(1.0, 0.01 * period)
    return float(np.mean(kept & (np.round(multiples) >= 1)))


def decimal_resolution(values: np.ndarray) -> float | None:
    """The rounding step of logged values (1e-4 for HF's 4 decimals), or None for full precision."""
    finite = np.abs(values[np.isfinite(values)])
    for k in range(1, 9):
        scaled = finite * 10**k
        if np.all(np.abs(scaled - np.round(scaled)) < 1e-6 * np.maximum(1.0, scaled)):
            return 10.0**-k
    return None


def _nan_logged_as_zero(values: np.ndarray) -> np.ndarray:
    """Exact zeros among losses hundreds of rounding steps above zero: NaN/inf a filter wrote as 0.

    HF's `logging_nan_inf_filter` adds the window's running mean in place of a NaN step's loss; with
    one step per logging window that mean is 0, so each NaN step is logged as exactly 0.0. A real
    loss does not fall from 0.2 to below the log's precision for one step and come straight back.
    """
    zero = values == 0
    resolution = decimal_resolution(values)
    if not zero.any() or resolution is None:
        return np.zeros(len(values), dtype=bool)
    out = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(zero):
        around = values[max(0, i - 5) : i + 6]
        around = around[np.isfinite(around) & (around > 0)]
        out[i] = len(around) >= 3 and float(np.median(around)) >= 500 * resolution
    return out


def _zero_with_nonfinite_gradient(loss: Series, grad: Series | None) -> np.ndarray:
    """Exact zeros logged at a step whose gradient norm is NaN/inf: the NaN filter's 0.0 for a NaN loss, even
    where the loss had come close to 0 (an fp16 scaler's overflow leaves the loss finite, not 0)."""
    out = np.zeros(len(loss.values), dtype=bool)
    if grad is None or not len(grad):
        return out
    bad_steps = grad.steps[~np.isfinite(grad.values)]
    return (loss.values == 0) & np.isin(loss.steps, bad_steps)


def _line_at_edge(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(value at t = 0, its standard error) of a straight line fitted with weights that fall linearly with the
    distance from t = 0 (a triangular kernel, as regression-discontinuity designs fit each side of a cut-off): the
    points near the edge decide, so a curve far from it (the run's early fall) does not bend the line at the edge.
    With equal weights, a warm restart right after that fall read as a x1.6 jump where the loss had not moved."""
    span = float(np.max(np.abs(t))) + 1.0
    w = 1.0 - np.abs(t) / span
    x = np.stack([np.ones_like(t), t], axis=1)
    xtw = x.T * w
    inverse = np.linalg.pinv(xtw @ x)
    coef = inverse @ (xtw @ y)
    sigma = max(robust_std(y - x @ coef), 1e-12)
    # the sandwich form, since the weights are not the inverse variances of the points
    cov = inverse @ ((x.T * w**2) @ x) @ inverse * sigma**2
    return float(coef[0]), float(np.sqrt(max(cov[0, 0], 0.0)))


def _clipped_about_line(y: np.ndarray, noise: float) -> np.ndarray:
    """y with its spikes pulled in to four noise levels of a robust straight line through it (the slope from the
    medians of its two halves), so that a straight fit follows the course, not a spike. Clipping about the median
    instead flattened a window that still fell steeply into a plateau at the clip, which put a "drop" at its end:
    at random LR drops on a decaying curve of plain noise, half were read as the loss following them."""
    n = len(y)
    if n < 4:
        return y
    half = n // 2
    t = np.arange(n, dtype=float)
    slope = float(np.median(y[half:]) - np.median(y[:half])) / (float(np.median(t[half:]) - np.median(t[:half])))
    line = slope * t + float(np.median(y - slope * t))
    return line + np.clip(y - line, -4 * noise - 1e-12, 4 * noise + 1e-12)


#: Exact zeros are a loss that is truly 0 on some batches (a hinge, margin or triplet loss once a batch
#: satisfies its margin) when they are common (this share of the points), come one or two at a time between
#: ordinary values, and those values sit far (this factor) above the smallest positive one. Otherwise they
#: are a tiny loss the log rounded to 0 (long stretches of a converged loss, or a rare low batch).
TRUE_ZERO_SHARE = 0.1
TRUE_ZERO_NEIGHBOURS = 100.0


def _zeros_are_rounded(values: np.ndarray, smallest: float) -> bool:
    """Whether the exact zeros of a loss stand for values below the log's precision."""
    is_zero = values == 0
    if is_zero.mean() < TRUE_ZERO_SHARE:
        return True
    edges = np.flatnonzero(np.diff(np.concatenate([[0], is_zero.astype(np.int8), [0]])))
    runs = edges[1::2] - edges[::2]  # lengths of the stretches of zeros
    if float(np.median(runs)) > 2:
        return True
    zeros = np.flatnonzero(is_zero)
    near = np.unique(np.clip(zeros[:, None] + np.arange(-3, 4)[None, :], 0, len(values) - 1))
    around = values[near]
    around = around[around > 0]
    return not len(around) or float(np.median(around)) < TRUE_ZERO_NEIGHBOURS * smallest


def fmt(x: float) -> str:
    """A number as a person reads it in evidence: 3 significant digits, scientific when tiny or huge."""
    if not np.isfinite(x):
        return str(x)
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e5):
        return f"{x:.2e}"
    return f"{x:.3g}"


__all__ = ["MIN_POINTS", "SPIKE_Z", "EpochInfo", "RunSignals", "fmt", "robust_std", "rolling_median"]
