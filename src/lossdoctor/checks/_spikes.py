"""Isolated upward spikes and how they fall across epochs: shared by the spike checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..signals import RunSignals, robust_std

#: Points after a spike that must be back near the trend for it to count as isolated.
RECOVERY = 5


@dataclass
class Spikes:
    idx: np.ndarray  # indices of isolated upward spikes
    ratio: np.ndarray  # how many times the trend each spike is (or z when not in log space)


def isolated_spikes(sig: RunSignals) -> Spikes:
    """Upward spikes after which the loss returns to its trend within a few points."""
    keep = []
    for i in sig.spike_idx:
        after = sig.z[i + 2 : i + 2 + RECOVERY]
        if len(after) and np.median(after) < 2.0:
            keep.append(i)
    idx = np.array(keep, dtype=int)
    ratio = 10 ** sig.residual[idx] if sig.log_space else sig.z[idx]
    return Spikes(idx, ratio)


def immediate_recovery(sig: RunSignals, idx: np.ndarray) -> float:
    """Share of spikes after which the very next point is back near the trend.

    A bad sample raises the loss of its own batch only; an oversized update raises the loss of the
    batches after it too, until the model recovers.
    """
    nxt = idx[idx + 1 < sig.n] + 1
    return float(np.mean(sig.z[nxt] < 2.0)) if len(nxt) else 0.0


def per_epoch_counts(sig: RunSignals, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(spike count per complete epoch, position of each spike within its epoch as a fraction)."""
    info = sig.epochs
    if info is None or len(info.starts) < 2:
        return None
    starts = info.starts
    first, last = sig.steps[0], sig.steps[-1]
    # The first epoch has no start mark of its own; a log that begins with it covers it whole.
    opening = starts[0] - round(info.length)
    if opening >= first - 1:
        starts = np.concatenate([[opening], starts])
    complete = [k for k in range(1, len(starts)) if starts[k - 1] >= first and starts[k] <= last + 1]
    if len(complete) < 3:
        return None
    epoch_of = np.searchsorted(starts, sig.steps[idx], side="right")
    counts = np.array([int(np.sum(epoch_of == k)) for k in complete])
    pos = (sig.steps[idx] - starts[np.maximum(epoch_of - 1, 0)]) / info.length
    return counts, pos


#: Epochs that must remain once the leading epochs without a spike are set aside (see `steady_span`).
MIN_STEADY_EPOCHS = 6


def steady_span(counts: np.ndarray) -> np.ndarray:
    """The spike counts per epoch from the first epoch holding one, for judging whether the count is steady.

    While the loss still falls fast, bad samples' spikes do not stand out from it; a slow model may learn the
    clean data only late, and the same samples then stand out in every later epoch. Leading epochs without a
    spike are set aside up to a third of the run, or further while MIN_STEADY_EPOCHS epochs remain.
    """
    leading = int(np.argmax(counts > 0)) if (counts > 0).any() else 0
    return counts[min(leading, max(len(counts) // 3, len(counts) - MIN_STEADY_EPOCHS)):]


def repeated_positions(sig: RunSignals, idx: np.ndarray) -> float:
    """Share of the spikes (after the first epoch holding one) that sit where a spike sat in the epoch
    before, within 2% of an epoch: 1 for anomalies tied to a fixed place in the data order (the short
    last batch, unshuffled bad samples), near 0 for samples that shuffling moves."""
    info = sig.epochs
    if info is None or len(idx) < 2:
        return 0.0
    offsets = sig.steps[idx] - info.starts[0]
    epoch = np.floor(offsets / info.length).astype(int)
    within = offsets - epoch * info.length
    tolerance = max(1.0, 0.02 * info.length)
    later = epoch > epoch.min()
    if not later.any():
        return 0.0
    pairs = zip(epoch[later], within[later], strict=True)
    hits = [np.any((epoch == e - 1) & (np.abs(within - w) <= tolerance)) for e, w in pairs]
    return float(np.mean(hits))


def phase_concentration(pos: np.ndarray) -> float:
    """How concentrated positions within the epoch are, on the circle (1: one fixed phase, 0: spread).

    Circular, so that a spike at 97% of one epoch and -3% of the next (the same place) agree.
    """
    return float(np.abs(np.mean(np.exp(2j * np.pi * pos)))) if len(pos) else 0.0


def grad_z(sig: RunSignals) -> tuple[np.ndarray, np.ndarray] | None:
    """(steps, robust z of log grad norm around its own trend), or None without a usable series."""
    grad = sig.grad_norm
    if grad is None or len(grad) < 20 or np.any(grad.values <= 0):
        return None
    from ..signals import rolling_median

    g = np.log10(grad.values)
    resid = g - rolling_median(g, max(7, len(g) // 60) | 1)
    return grad.steps, resid / max(robust_std(resid), 1e-9)


def grad_led_events(sig: RunSignals, grad_threshold: float = 3.5, loss_threshold: float = 2.5) -> np.ndarray:
    """Loss spikes that come with a gradient-norm spike that was already building the step before.

    An oversized update raises the loss *after* it is applied, so the gradient is already elevated
    the step before the loss spikes. A bad sample (or a merely hard batch) raises loss and gradient
    at its own step only. Returns loss indices.
    """
    found = grad_z(sig)
    if found is None:
        return np.array([], dtype=int)
    steps, gz = found
    at = np.clip(np.searchsorted(steps, sig.steps), 0, len(steps) - 1)
    aligned = steps[at] == sig.steps
    g = np.where(aligned, gz[at], 0.0)
    if (sig.run.facts.loss_window or 1) > 1:
        return _windowed_grad_events(sig, g, grad_threshold)
    events = []
    for i in np.flatnonzero((sig.z > loss_threshold) & (g > grad_threshold)):
        before = g[i - 1] if i > 0 else 0.0
        if before > 2.0 and (not events or i > events[-1] + 2):
            events.append(int(i))
    return np.array(events, dtype=int)


#: A gradient norm this many times its local level (a median over CLIFF_WINDOW logged points, wide enough
#: that a burst of blow-ups does not raise it) on a batch whose own loss is not high: a cliff.
CLIFF_RATIO = 10.0
CLIFF_WINDOW = 51
#: A batch whose loss is above this ratio to its trend was not ordinary: its own loss rose with its gradient
#: (a bad sample), which a cliff's batch does not do.
ORDINARY_LOSS_RATIO = 1.5
#: ...unless the batches after it are this many times worse than those before (median of DAMAGE_POINTS on each
#: side): then the update itself threw the weights off, whatever the batch's own loss was.
DAMAGE_RATIO = 2.0
DAMAGE_POINTS = 5


def cliff_events(sig: RunSignals, ordinary: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    """Steps whose gradient norm blows up to CLIFF_RATIO× its local level while the batch's own loss is not
    high (robust z under `ordinary`), or the batches after it are far worse than those before.

    The classic exploding gradient: the loss surface is a cliff there, so the gradient explodes although
    the loss does not (a long sequence through an RNN). A bad sample instead raises its own loss with its
    gradient, and the batches after it are no worse. Returns the loss indices of the steps after the blow-ups,
    where the oversized update lands, each blow-up's size (times its local level), and whether its batch's
    own loss was ordinary.
    """
    none = (np.array([], dtype=int), np.array([]), np.array([], dtype=bool))
    grad = sig.grad_norm
    if grad is None or len(grad) < 20 or np.any(grad.values <= 0) or (sig.run.facts.loss_window or 1) > 1:
        return none
    from ..signals import rolling_median

    log_g = np.log10(grad.values)
    window = int(min(CLIFF_WINDOW, max(7, len(log_g) // 4))) | 1
    level = rolling_median(log_g, window)
    above = log_g - level
    # on a run that diverges, the level itself has grown by decades: blow-ups on top of it are the climb
    early = float(np.median(log_g[: max(5, len(log_g) // 10)]))
    at = np.clip(np.searchsorted(grad.steps, sig.steps), 0, len(grad.steps) - 1)
    aligned = grad.steps[at] == sig.steps
    lift = np.where(aligned, above[at], 0.0)
    events: list[int] = []
    sizes: list[float] = []
    on_ordinary: list[bool] = []
    # "not high" both against the scatter and in size: with very noisy small batches a bad sample's loss ×3
    # its trend is still inside 2.5 robust stds, while a cliff's batch sits near its trend (×0.8–×1.4)
    ordinary_size = sig.residual < np.log10(ORDINARY_LOSS_RATIO) if sig.log_space else True
    ordinary_batch = (sig.z < ordinary) & ordinary_size
    for i in np.flatnonzero(lift >= np.log10(CLIFF_RATIO)):
        if not (ordinary_batch[i] or _damaged_after(sig, int(i))):
            continue
        j = int(at[i])
        # a blow-up, not a divergence: within a few steps the norm is back near its level (a too-high LR
        # keeps it up while the loss climbs)
        back = len(above) > j + 1 and float(np.min(above[j + 1: j + 6])) <= np.log10(3.0)
        if back and level[j] - early <= 1.0 and i + 1 < sig.n and (not events or i + 1 > events[-1] + 2):
            events.append(int(i + 1))
            sizes.append(float(10 ** lift[i]))
            on_ordinary.append(bool(ordinary_batch[i]))
    return np.array(events, dtype=int), np.array(sizes), np.array(on_ordinary, dtype=bool)


def damage_after(sig: RunSignals, i: int) -> float:
    """How many times worse (log10) the DAMAGE_POINTS batches after point i run than those before it; 0 when
    the log cannot say (linear loss, too near an end)."""
    if not sig.log_space or i < DAMAGE_POINTS or i + 1 + DAMAGE_POINTS > sig.n:
        return 0.0
    before = float(np.median(sig.y[i - DAMAGE_POINTS: i]))
    return float(np.median(sig.y[i + 1: i + 1 + DAMAGE_POINTS])) - before


def _damaged_after(sig: RunSignals, i: int) -> bool:
    """Whether the batches after point i are DAMAGE_RATIO times worse than those before it (and beyond the
    step noise): an update that blew up with its batch's loss still threw the weights off."""
    return damage_after(sig, i) >= max(np.log10(DAMAGE_RATIO), 2 * sig.step_noise)


def _windowed_grad_events(sig: RunSignals, g: np.ndarray, grad_threshold: float) -> np.ndarray:
    """Gradient-norm spikes in a log of window means (HF `logging_steps`): the norm is the last step's,
    the loss a mean that dilutes one bad step several times. An oversized update shows as a norm spike
    with the loss above its trend there or in the next window, where its damage lands."""
    events: list[int] = []
    for i in np.flatnonzero(g > grad_threshold):
        after = sig.z[i : i + 2]
        if len(after) and after.max() > 1.5 and (not events or i > events[-1] + 1):
            events.append(int(i + int(np.argmax(after))))
    return np.array(events, dtype=int)


def grad_blowup_share(sig: RunSignals, idx: np.ndarray, ahead: int, before: int = 30) -> tuple[float, float] | None:
    """(share of loss jumps whose gradient norm blows up while the jump builds, median blow-up) for jumps
    that may take a few steps to peak (an RNN's blow-up grows over 3–6 steps). The norm's peak from one point
    before the jump to `ahead` points after it is measured against its median over the `before` points
    ahead of the jump, which the surge itself cannot lift (a centred median can)."""
    grad = sig.grad_norm
    if grad is None or len(grad) < 20 or np.any(grad.values <= 0) or not len(idx):
        return None
    g = np.log10(grad.values)
    scale = max(robust_std(np.diff(g)) / np.sqrt(2), 1e-9)
    hits, ratios = 0, []
    for i in idx:
        j = int(np.searchsorted(grad.steps, sig.steps[i]))
        reference = g[max(0, j - before): max(0, j - 1)]
        window = g[max(0, j - 1): j + ahead + 1]
        if len(reference) < 5 or not len(window):
            continue
        lift = float(window.max() - np.median(reference))
        if lift > 4 * scale:
            hits += 1
            ratios.append(10**lift)
    return hits / len(idx), float(np.median(ratios)) if ratios else 1.0


def grad_spike_share(sig: RunSignals, idx: np.ndarray) -> tuple[float, float] | None:
    """(share of loss spikes with a gradient-norm spike within one logged point, median grad ratio)."""
    grad = sig.grad_norm
    if grad is None or len(grad) < 20 or np.any(grad.values <= 0) or not len(idx):
        return None
    g = np.log10(grad.values)
    from ..signals import rolling_median

    resid = g - rolling_median(g, max(7, len(g) // 60) | 1)
    scale = max(robust_std(resid), 1e-9)
    hits, ratios = 0, []
    for i in idx:
        j = int(np.searchsorted(grad.steps, sig.steps[i]))
        window = resid[max(0, j - 1) : j + 2]
        if len(window) and window.max() > 4 * scale:
            hits += 1
            ratios.append(10 ** window.max())
    return hits / len(idx), float(np.median(ratios)) if ratios else 1.0
