"""An adaptive optimizer reaches a tiny loss, then the loss climbs back by orders of magnitude."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..signals import RunSignals, fmt, rolling_median, rolling_quantile, trend_window
from . import check
from ._fix import for_framework

#: The loss must have fallen by this many orders of magnitude from its start: an (almost) exact fit.
MIN_DROP_DECADES = 4.0
#: ...and then risen by this many orders of magnitude from its minimum.
MIN_CLIMB_DECADES = 2.0
#: Or, once that deep, it bursts at least this many times to ten times its level and falls back.
MIN_BURSTS = 3

#: ...and outnumber this many times the dips as deep below the trend (plus one).
MIRROR_FACTOR = 3
#: The lower envelope bursts are measured from: this quantile over this many trend windows.
ENVELOPE_QUANTILE = 0.2
ENVELOPE_WIDTH = 4

_NON_ADAPTIVE = ("sgd", "lbfgs", "momentum")


@check("adam_near_convergence", "problem", "Adam/RMSProp instability after reaching a near-zero loss")
def adam_near_convergence(sig: RunSignals) -> Finding | None:
    """Fires when the loss trend drops by ≥4 orders of magnitude and then climbs back by ≥2.

    Adam divides each step by sqrt(v)+eps, where v tracks squared gradients. When the gradients stay
    near zero, v shrinks toward eps and a small change elsewhere produces a large step. The climb must
    persist over the trend (not a single spike). False positives: a run whose data change mid-way (a
    new task), and a plain-SGD run (then the optimizer fact rules it out and lr_too_high is asked).
    """
    if sig.n < 30 or not sig.log_space:
        return None
    optimizer = (sig.run.facts.optimizer or "").lower()
    if optimizer and any(name in optimizer for name in _NON_ADAPTIVE) and "adam" not in optimizer:
        return None
    start = float(np.median(sig.y[:3]))
    low_idx = int(np.argmin(sig.trend))
    low = float(sig.trend[low_idx])
    if start - low < MIN_DROP_DECADES or low_idx >= sig.n - 5:
        return None
    after = sig.trend[low_idx:]
    peak_rel = int(np.argmax(after))
    peak_idx = low_idx + peak_rel
    climb = float(after[peak_rel] - low)
    # The climb must hold for a while: the last tenth of the run stays well above the minimum.
    tail = float(np.median(sig.y[-max(5, (sig.n - low_idx) // 10) :]))
    # A log that rounds tiny losses to 0 hides the true minimum; the climb measured from the
    # rounding floor is then a lower bound, so a steady return to ×3 above it already counts.
    floored = sig.zero_floor is not None and low <= np.log10(sig.zero_floor) + 1e-9
    needed = np.log10(3.0) if floored else MIN_CLIMB_DECADES
    grad_climb = _grad_climb_at_floor(sig, low_idx) if floored else None
    # Held: the run ends well above its minimum, or spends a tenth of the points after it that far up (an
    # excursion of many epochs that Adam's shrunken steps then bring down again is no single spike).
    up = int(np.sum(after >= low + needed / 2))
    held = tail - low >= needed / 2 or up >= max(5, (sig.n - low_idx) // 10)
    bursts = None
    if (climb < needed or not held) and grad_climb is None:
        bursts = _bursts_near_zero(sig, start)
        if bursts is None:
            return None
    low_step, peak_step = int(sig.steps[low_idx]), int(sig.steps[peak_idx])
    if grad_climb is not None and climb < needed:
        peak_step = grad_climb[2]
    first_tiny = int(sig.steps[int(np.argmax(sig.trend <= low + 1.0))])
    evidence = [
        f"the loss fell from {fmt(10**start)} to {fmt(10**low)} ({start - low:.0f} orders of magnitude"
        + (f"; within a decade of that by step {first_tiny}, lowest at step {low_step}" if first_tiny < low_step
           else f", by step {low_step}") + "): the model fits the data almost exactly",
        f"then it climbed back to {fmt(10 ** after[peak_rel])} by step {peak_step}"
        f" (×{fmt(10**climb)}; its trend), {_highest_logged(sig, low_idx)}, and ends at {fmt(10**tail)}"
        if bursts is None else
        f"once that close to zero it burst {bursts[0]} times to ×{fmt(bursts[1])} its level around (median; largest"
        f" ×{fmt(bursts[2])}) and fell back each time, from step {bursts[3]} on",
    ]
    if grad_climb is not None:
        evidence.append(
            f"while the logged loss sits at its rounding floor, the gradient norm climbs from {fmt(grad_climb[0])}"
            f" to {fmt(grad_climb[1])} (×{fmt(grad_climb[1] / grad_climb[0])}) by step {grad_climb[2]}: the model"
            " is being pushed away from its near-exact fit"
        )
    if floored:
        evidence.append(
            f"the log writes losses below its precision as 0 (shown as {fmt(10**low)}): the true minimum"
            " is lower and the climb larger"
        )
    lr = sig.lr
    if lr is not None and len(lr):
        window = lr.values[(lr.steps >= first_tiny) & (lr.steps <= peak_step)]
        if len(window) and np.nanmax(window) <= np.nanmin(window) * 1.0001:
            evidence.append(f"the learning rate stayed at {fmt(float(window[0]))} throughout the climb")
    if optimizer:
        evidence.append(f"optimizer: {sig.run.facts.optimizer} (adaptive: divides by sqrt(v)+eps)")
    else:
        evidence.append("the log does not name the optimizer; this pattern is typical of Adam/RMSProp")
    confidence = 0.9 if "adam" in optimizer or "rmsprop" in optimizer else 0.8
    recorded = _recorded_adam_state(sig, first_tiny, peak_step)
    if recorded:
        evidence.extend(recorded)
        confidence = 0.97
    steps = sorted({low_step, peak_step} | _climbs(sig, low_idx)) if bursts is None else bursts[4][:200]
    return Finding(
        id="adam_near_convergence",
        severity="problem",
        confidence=confidence,
        title="Adam's steps grow once the loss is near zero, and the loss climbs back",
        evidence=evidence,
        fix=for_framework(
            sig,
            cause="adam_near_convergence",
            torch=[
                "optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)  # smaller steps near the optimum",
                "scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=num_steps)",
                "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-6)  # larger eps damps it",
                f"if loss.item() < {fmt(10 ** (low + 1))}: break  # stop once converged",
            ],
            hf=["TrainingArguments(..., lr_scheduler_type='cosine', adam_epsilon=1e-6)"],
            keras=["keras.optimizers.Adam(learning_rate=1e-5, epsilon=1e-6)",
                   "keras.callbacks.EarlyStopping(monitor='loss', patience=50)"],
        ),
        steps=steps,
    )


def _bursts_near_zero(sig: RunSignals, start: float) -> tuple[int, float, float, int, list[int]] | None:
    """(count, median and largest size, first step, steps) of the bursts once the loss trend is MIN_DROP_DECADES below
    its start: stretches ten times above the trend that come back down. Adam's v̂ has decayed there, so a
    small gradient change takes a large step, again and again."""
    deep = np.flatnonzero(sig.trend <= start - MIN_DROP_DECADES)
    if not len(deep):
        return None
    lift = sig.y - sig.trend
    # Climbs that last a few logged points (a 10-step mean rising over 20-50 steps) lift a rolling median with
    # them, not a low quantile: measured from that lower envelope, a point counts when it is part of a climb (a
    # neighbour at least half as high), which single heavy-tailed batches seldom are.
    envelope = rolling_quantile(sig.y, ENVELOPE_WIDTH * trend_window(sig.n) | 1, ENVELOPE_QUANTILE)
    above = sig.y - envelope
    half = np.concatenate([above >= 0.5, [False]])
    in_climb = half[:-1] & (np.roll(half, 1)[:-1] | half[1:])  # a neighbour on either side half as high
    lift = np.where(in_climb & (above >= 1.0), np.maximum(lift, above), lift)
    up = np.flatnonzero(lift[deep[0]:] >= 1.0) + deep[0]
    if not len(up):
        return None
    firsts = up[np.concatenate([[True], np.diff(up) > 3])]  # a burst: points up, less than 3 apart
    # Heavy-tailed scatter throws points a decade below the trend about as often as above it; Adam's bursts go
    # one way. The dips (grouped alike) stand for what the scatter alone would give, and the bursts must
    # outnumber them several times over.
    down = np.flatnonzero(sig.y[deep[0]:] - sig.trend[deep[0]:] <= -1.0)
    dips = int(np.sum(np.diff(down) > 3)) + 1 if len(down) else 0
    if len(firsts) < max(MIN_BURSTS, MIRROR_FACTOR * (dips + 1)):
        return None
    peaks = np.array([lift[i: i + 4].max() for i in firsts])
    return (len(firsts), float(10 ** np.median(peaks)), float(10 ** peaks.max()), int(sig.steps[firsts[0]]),
            [int(s) for s in sig.steps[firsts]])


def _grad_climb_at_floor(sig: RunSignals, low_idx: int) -> tuple[float, float, int] | None:
    """(lowest, last, step of last) gradient-norm level after the loss reached the log's rounding floor,
    when its rolling median climbs MIN_CLIMB_DECADES above the lowest tenth of that stretch.

    A log that rounds the loss (HF writes 4 decimals) shows 0 while the loss climbs back from 1e-12 to
    1e-5; the gradient norm is not rounded and shows the climb.
    """
    grad = sig.grad_norm
    if grad is None or np.any(grad.values <= 0):
        return None
    later = grad.values[grad.steps >= sig.steps[low_idx]]
    if len(later) < 50:
        return None
    size = len(later) // 10
    lowest = float(np.min(np.median(later[: size * 10].reshape(10, size), axis=1)))
    # Rolling medians of a fortieth of the stretch: a climb in the last few percent counts, one step does not.
    smooth = rolling_median(np.log10(later), max(5, len(later) // 40) | 1)
    peak = int(np.argmax(smooth))
    if smooth[peak] - np.log10(lowest) < MIN_CLIMB_DECADES:
        return None
    steps = grad.steps[grad.steps >= sig.steps[low_idx]]
    return lowest, float(10 ** smooth[peak]), int(steps[peak])


def _recorded_adam_state(sig: RunSignals, first_tiny: int, peak_step: int) -> list[str]:
    """What the recorder saw of Adam's state during the climb: eps against sqrt(v̂), and the step size."""
    out = []
    below = sig.run.get("adam_v_below_eps")
    if below is not None:
        during = below.values[(below.steps >= first_tiny) & (below.steps <= peak_step)]
        before = below.values[below.steps < first_tiny]
        if len(during) and float(np.nanmax(during)) > 0:
            out.append(
                f"recorded Adam state: up to {float(np.nanmax(during)):.0%} of the weights had sqrt(v̂) below eps"
                f" during the climb (before it: {float(np.nanmedian(before)) if len(before) else 0.0:.0%}), so"
                " eps, not the gradient, sets their step"
            )
    step = sig.run.get("adam_effective_lr")
    if step is not None:
        early = step.values[step.steps < first_tiny]
        late = step.values[(step.steps >= first_tiny) & (step.steps <= peak_step)]
        if len(early) and len(late) and np.nanmedian(early) > 0:
            growth = float(np.nanmax(late) / np.nanmedian(early))
            if growth > 1.5:
                out.append(f"Adam's effective step size lr/(sqrt(v̂)+eps) grew ×{fmt(growth)} from early training"
                           " to the climb")
    return out


def _highest_logged(sig: RunSignals, low_idx: int) -> str:
    """The highest logged loss after the minimum: the trend smooths a climb of a few points far down."""
    finite = np.isfinite(sig.y[low_idx:])
    if not finite.any():
        return "no finite loss logged after it"
    top = low_idx + int(np.argmax(np.where(finite, sig.y[low_idx:], -np.inf)))
    return f"its highest logged loss after that {fmt(10 ** sig.y[top])} at step {int(sig.steps[top])}"


def _climbs(sig: RunSignals, low_idx: int, count: int = 20) -> set[int]:
    """The steps where the loss stood highest above the lowest it had reached by then (a decade, or four noise
    levels for a loss read in its own units, at least), after
    the low point, each the peak of its own climb: where a plot should point, not an even grid."""
    y = sig.y[low_idx:]
    above = y - np.minimum.accumulate(y)
    least = 1.0 if sig.log_space else 4 * sig.step_noise
    peaks = [i for i in range(1, len(y) - 1)
             if above[i] >= least and above[i] >= above[i - 1] and above[i] > above[i + 1]]
    peaks.sort(key=lambda i: -above[i])
    chosen: list[int] = []
    gap = max(1, len(y) // (2 * count))
    for i in peaks:
        if all(abs(i - j) > gap for j in chosen):
            chosen.append(i)
        if len(chosen) == count:
            break
    return {int(sig.steps[low_idx + i]) for i in chosen}
