"""Validation loss turns up while the training loss keeps falling."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..run import Series
from ..signals import RunSignals, fmt, robust_std, rolling_median
from . import check
from ._fix import for_framework

#: Validation must end at least 10% above its best (and above its own noise) to count:
#: a plateau with noise is not yet a problem.
MIN_VAL_RISE = 1.10
#: Times that bar validation must rise by when the training loss, too noisy to show a fall, only holds its level.
HELD_RISE_FACTOR = 3.0


def _train_level(sig: RunSignals, step: int, width: int) -> float:
    """Median training loss (analysis space) around `step`."""
    i = int(np.searchsorted(sig.steps, step))
    lo, hi = max(0, i - width), min(sig.n, i + width + 1)
    return float(np.median(sig.y[lo:hi]))


#: An evaluation after the best counts only at a learning rate at most this many times the best one's (the
#: float's rounding aside): validation is compared like with like.
MAX_LR_OVER_BEST = 1.001


def _at_no_higher_lr_than_the_best(sig: RunSignals, val: Series) -> Series:
    """The evaluations up to the best, and those after it made at a learning rate no higher than the best one's: a
    warm restart kicks validation up along with the LR, and a run that ended soon after one had read as overfitting
    from its last evaluation (red-team 21b r01, +4989% 15 steps past a restart). Under a constant or decaying LR
    every evaluation counts."""
    lr = sig.lr
    if lr is None or not len(lr):
        return val
    at_eval = lr.values[np.clip(np.searchsorted(lr.steps, val.steps, side="right") - 1, 0, len(lr) - 1)]
    best = int(np.argmin(val.values))
    keep = (np.arange(len(val)) <= best) | (at_eval <= MAX_LR_OVER_BEST * at_eval[best])
    return val if keep.all() else Series(val.steps[keep], val.values[keep])


def _noise_of_best_phase(sig: RunSignals, steps: np.ndarray, v: np.ndarray, best: int) -> float:
    """The scatter of the evaluations made at the best one's learning rate, when the LR jumped between the best
    and the last two evaluations (0.0 otherwise, or with fewer than three evaluations at that rate).

    At a high LR of a step schedule validation swings from one evaluation to the next; its best is the luckiest
    of those swings, and the calmer evaluations after the drop, compared with it, read as a rise. The best is
    one draw of its phase, so the rise must stand out of that phase's scatter."""
    jumps = [step for step, _, _ in sig.lr_jumps]
    later = [step for step in jumps if steps[best] < step <= steps[-2]]
    if not later:
        return 0.0
    start = max([step for step in jumps if step <= steps[best]], default=-np.inf)
    phase = v[(steps >= start) & (steps < later[0])]
    return robust_std(np.diff(phase)) / np.sqrt(2) if len(phase) >= 3 else 0.0


@check("overfitting", "problem", "validation loss rises while training loss falls")
def overfitting(sig: RunSignals) -> Finding | None:
    """Fires when the validation loss ends clearly above its best value while the training loss
    kept falling over the same steps.

    The rise must exceed both 10% and three times the validation loss's own step-to-step noise; the
    training loss must be lower at the end than where validation was best. Validation is compared like with
    like: after the best, only evaluations at an LR no higher than the best one's count. False positives: a
    validation set that is not representative (shifted data), and an LR restart that makes both
    losses rise (then training rises too and this check stays silent).
    """
    val = sig.val
    if val is None or len(val) < 4 or not np.all(np.isfinite(val.values)) or sig.n < 4:
        return None
    val = _at_no_higher_lr_than_the_best(sig, val)
    # Relative rises for a positive loss; a loss that can go negative (a Poisson or Gaussian NLL) is compared in
    # its own units, against a tenth of how far it had come down (or of its size at the best).
    relative = bool(np.all(val.values > 0))
    v = np.log10(val.values) if relative else val.values.astype(float)
    best = int(np.argmin(v))
    if best >= len(v) - 2:
        return None  # a rise needs two evaluations after the best: one is a noisy point
    tail_n = max(1, (len(v) - best) // 3)
    tail = float(np.median(v[-tail_n:]))
    val_noise = robust_std(np.diff(v)) / np.sqrt(2) if len(v) > 3 else 0.0
    rise = tail - float(v[best])
    scale = np.log10(MIN_VAL_RISE) if relative else (MIN_VAL_RISE - 1) * max(v[0] - v[best], abs(v[best]))
    if rise < max(scale, 3 * val_noise / np.sqrt(tail_n), 3 * _noise_of_best_phase(sig, val.steps, v, best)):
        return None
    best_step = int(val.steps[best])
    width = max(1, sig.n // 40)
    train_then = _train_level(sig, best_step, width)
    train_end = float(np.median(sig.y[-max(1, sig.n // 20) :]))
    fall = train_then - train_end
    se = 1.25 * sig.step_noise / np.sqrt(max(1, width))
    smooth = rolling_median(sig.y, max(3, sig.n // 10) | 1)
    lowest_since = float(np.min(smooth[int(np.searchsorted(sig.steps, best_step)) :]))
    # Training must keep falling; a loss that fell a decade or more since the best evaluation may tick up at
    # its floor near zero (memorised), which does not undo the fall.
    kept_falling = not (fall < max(2 * se, np.log10(1.05)) or (train_end > lowest_since + 2 * se and fall < 1.0))
    # A training loss at its floor, too noisy to show a fall, that does not rise while validation climbs far beyond
    # its bar: still the model learning its training set and not the task (a climbing LR lifts both).
    # The model must have learned first: the training loss fell further before validation's best than validation
    # then rose (a too-high LR that never lets it learn also leaves the training loss flat and validation climbing).
    learned = float(np.median(sig.y[: max(3, min(sig.n // 20, 10))])) - train_then
    held = fall > -2 * se and rise >= HELD_RISE_FACTOR * max(scale, 3 * val_noise / np.sqrt(tail_n)) \
        and learned > (rise if relative == sig.log_space else 0.0)
    if not (kept_falling or held):
        return None  # training did not keep falling: that is not overfitting (see lr_too_high)
    to_loss = (lambda x: 10**x) if sig.log_space else (lambda x: x)
    unit = "epoch" if sig.run.facts.step_unit == "epoch" else "step"
    val_at = (lambda x: 10**x) if relative else (lambda x: x)
    grew = f"+{100 * (10**rise - 1):.0f}%" if relative else f"up {fmt(rise)}"
    evidence = [
        f"validation loss was best at {fmt(float(val.values[best]))} at {unit} {best_step} and ends at"
        f" {fmt(val_at(tail))} ({grew}"
        + (f"; median of the last {tail_n} evaluations, the last is {fmt(float(val.values[-1]))})" if tail_n > 1
           else ")"),
        f"meanwhile the training loss kept falling: {fmt(to_loss(train_then))} → {fmt(to_loss(train_end))}"
        if kept_falling else
        f"meanwhile the training loss held its level within its scatter: {fmt(to_loss(train_then))} →"
        f" {fmt(to_loss(train_end))}; it did not rise, as it would with too large steps",
    ]
    gap_then = float(val.values[best]) - to_loss(train_then)
    gap_end = val_at(tail) - to_loss(train_end)
    if gap_end > gap_then:
        evidence.append(f"the validation–training gap widened from {fmt(gap_then)} to {fmt(gap_end)}")
    confidence = 0.85 if kept_falling and fall > 2 * se and rise > scale else 0.7
    steps = [int(s) for s in val.steps[best:]]
    return Finding(
        id="overfitting",
        severity="problem",
        confidence=confidence,
        title="Overfitting: validation loss turns up while training loss keeps falling",
        evidence=evidence,
        fix=for_framework(
            sig,
            torch=[
                "# stop at the best validation loss and keep those weights:",
                "if val_loss < best: best, patience_left = val_loss, 3; torch.save(model.state_dict(), 'best.pt')",
                "else: patience_left -= 1  # stop when it reaches 0",
                "optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)",
                "# and more data / augmentation, dropout, or a smaller model",
            ],
            hf=[
                "TrainingArguments(..., eval_strategy='epoch', save_strategy='epoch',",
                "    load_best_model_at_end=True, metric_for_best_model='eval_loss', weight_decay=0.05)",
                "trainer = Trainer(..., callbacks=[EarlyStoppingCallback(early_stopping_patience=2)])",
            ],
            lightning=["Trainer(..., callbacks=[EarlyStopping(monitor='val_loss', patience=3)])"],
            keras=["keras.callbacks.EarlyStopping(monitor='val_loss', patience=3, restore_best_weights=True)"],
        ),
        steps=steps,
    )
