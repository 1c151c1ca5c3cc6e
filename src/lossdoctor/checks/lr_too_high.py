"""Steps too large for the loss surface: the loss climbs, oscillates wildly or diverges to NaN."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..signals import RunSignals, fmt, robust_std, rolling_median
from . import check
from ._fix import for_framework
from .no_progress import first_update_jump, stalled
from .numerical_instability import climb_before, gradient_fell_before

#: The loss over the last part of the run must sit this many times above its best segment to be a climb.
MIN_RISE = 1.5
#: A rise must also exceed this many standard errors of a segment median.
MIN_RISE_SE = 4.0
#: Validation this much above its best, while the training loss has stopped improving, means the
#: steps are too large rather than overfitting (which needs a falling training loss).
VAL_RISE = 1.15
#: Gradient norm growth (late over early median) that confirms overshooting.
GRAD_GROWTH = 1.3
#: A climb that recovers: tenths of the run whose level sits this many times above the best tenth before
#: them, for at least EXCURSION_TENTHS tenths in a row. Isolated blow-ups cannot move the median of a tenth
#: of the run (hundreds of steps in a long log) that far; only a level that moved can.
EXCURSION_RISE = 3.0
EXCURSION_TENTHS = 1
#: An Adam-family learning rate at or above this is far outside the range those optimizers are used in
#: (1e-5 to 3e-3, 1e-2 for the smallest nets): with such a rate, a loss that stops improving after its
#: first tenth has been thrown to a plateau rather than converged.
ADAM_LR_CEILING = 3e-2


def _rise(sig: RunSignals) -> tuple[int, float, float] | None:
    """(segment index of the best level, rise of the tail over it, its standard error), in log10."""
    if not sig.log_space or sig.n < 8:
        return None
    medians, se = sig.segments(10)
    best = int(np.argmin(medians))
    if best == len(medians) - 1:
        return None
    tail = float(np.median(sig.y[-max(3, int(sig.n * 0.15)) :]))
    return best, tail - float(medians[best]), max(float(se), _median_scatter(medians))


def _median_scatter(medians: np.ndarray) -> float:
    """The standard error of a tenth's median as the tenths themselves show it: the robust scatter of their
    second differences (a steady trend, falling or climbing, has none). The step noise alone understates it
    when the loss of a batch has two modes (a few noisy labels in a tiny batch: either about 0.05 or about
    0.7), where a tenth's median jumps with the share of batches in the upper mode."""
    if len(medians) < 5:
        return 0.0
    return robust_std(np.diff(medians, n=2)) / np.sqrt(6)


def _excursion(sig: RunSignals) -> tuple[float, float, int, int] | None:
    """(best level before, peak level, first and last tenth up) when the loss level climbs far above the best
    it had reached and stays up for several tenths before it comes down again: the steps threw the model off
    and it needed a long time back (a one-batch blow-up moves no tenth's median)."""
    if not sig.log_space or sig.n < 40 or sig.lr_jumps:
        return None
    medians, se = sig.segments(10)
    se = max(float(se), _median_scatter(medians))
    best_before = np.minimum.accumulate(medians)
    up = (medians[1:] - best_before[:-1] >= max(np.log10(EXCURSION_RISE), MIN_RISE_SE * se))
    run_start, longest = None, (0, 0, 0)
    for k, is_up in enumerate(up, start=1):
        if is_up and run_start is None:
            run_start = k
        if (not is_up or k == len(up)) and run_start is not None:
            end = k if is_up else k - 1
            if end - run_start + 1 > longest[0]:
                longest = (end - run_start + 1, run_start, end)
            run_start = None
    length, first, last = longest
    if length < EXCURSION_TENTHS:
        return None
    peak = float(np.max(medians[first : last + 1]))
    return 10 ** float(best_before[first - 1]), 10**peak, first, last


def _early_overshoot(sig: RunSignals) -> tuple[float, float, int, bool] | None:
    """(start level, early peak, its step, whether training recovered well below the start).

    At initialisation the loss is at its starting level; a loss that climbs well above it within the
    first few percent of the run means the first updates overshoot. Rolling medians of three points
    keep single noisy batches from counting; the jump must exceed three step-to-step noise levels.
    """
    k = max(6, sig.n // 20)
    if sig.n < 3 * k:
        return None
    early = rolling_median(sig.y[: k + 3], 3)[:k]
    peak_i = int(np.argmax(early))
    # The loss at initialisation: the median of the first two points, or the first point alone (the
    # very first update may already overshoot), which, being one noisy batch, must be beaten by more.
    start = float(np.median(sig.y[:2]))
    medians, _ = sig.segments(10)
    if float(early[peak_i]) - start < max(np.log10(1.3), 3 * sig.step_noise):
        start = float(sig.y[0])
        if float(early[peak_i]) - start < max(np.log10(1.3), 5 * sig.step_noise):
            return _sharp_early_overshoot(sig, k, medians)
    recovered = float(np.min(medians)) < start - np.log10(1.5)
    if not recovered and float(early[peak_i]) - float(np.median(sig.y[peak_i:])) < 3 * sig.step_noise:
        # The early peak does not stand out from where the run then stays: a flat, noisy run whose first batch
        # was a low draw and whose early maximum a high one, not a model thrown up by its first updates.
        return _sharp_early_overshoot(sig, k, medians)
    return 10**start, 10 ** float(early[peak_i]), int(sig.steps[peak_i]), recovered


def _sharp_early_overshoot(sig: RunSignals, k: int, medians: np.ndarray) -> tuple[float, float, int, bool] | None:
    """A jump too short for the rolling median: the loss is far above its first value for a step or two
    and the run never gets well below where it started (a model thrown to a plateau by its first updates,
    e.g. a transformer stuck at the unigram level, a CNN at chance). Far: ten step-to-step noise levels and
    ×1.3. Not an outlier batch: a neighbour of the peak is up too (an outlier moves one batch), and the run
    never gets well below its start (runs with an early outlier batch train on)."""
    first = float(sig.y[0])
    jump = sig.y[1:k] - first
    peak = int(np.argmax(jump)) + 1
    size = float(jump[peak - 1])
    if size < max(np.log10(1.3), 10 * sig.step_noise):
        return None
    neighbours = sig.y[max(1, peak - 1): peak + 2]
    if int(np.sum(neighbours - first >= 3 * sig.step_noise)) < 2:  # the peak and at least one neighbour
        return None
    if float(np.min(medians)) < first - np.log10(1.5):
        return None  # the run recovered well below its start: a rough first step, not a verdict
    return 10**first, 10 ** float(sig.y[peak]), int(sig.steps[peak]), False


#: A gradient norm this many times its median at its peak is a blow-up worth naming beside the growth.
GRAD_BLOW_UP = 100.0


def _grad_norm_blow_up(sig: RunSignals) -> tuple[float, int, float] | None:
    """(peak, its step, median) of the gradient norm when its peak is GRAD_BLOW_UP times its median: early and
    late medians hide a blow-up of a few dozen steps."""
    grad = sig.grad_norm
    if grad is None:
        return None
    finite = np.isfinite(grad.values) & (grad.values > 0)
    if finite.sum() < 10:
        return None
    values, steps = grad.values[finite], grad.steps[finite]
    typical, top = float(np.median(values)), int(np.argmax(values))
    if values[top] < GRAD_BLOW_UP * typical:
        return None
    return float(values[top]), int(steps[top]), typical


def _grad_norm_growth(sig: RunSignals) -> tuple[float, float] | None:
    found = sig.grad_norm
    if found is None or len(found) < 20 or np.any(found.values <= 0):
        return None
    k = max(3, len(found) // 10)
    return float(np.median(found.values[:k])), float(np.median(found.values[-k:]))


def _val_rise(sig: RunSignals) -> tuple[float, float] | None:
    """(best, final) validation loss when validation ends well above its best."""
    val = sig.val
    if val is None or len(val) < 4:
        return None
    best = float(np.min(val.values))
    last = float(np.median(val.values[-max(1, len(val) // 5) :]))
    if best <= 0 or last < best * VAL_RISE:
        return None
    # The lowest of many noisy evaluations is low by luck: the rise must also clear twice the
    # evaluation-to-evaluation scatter (robust, in log space).
    scatter = 1.4826 * float(np.median(np.abs(np.diff(np.log10(np.maximum(val.values, 1e-300)))))) / np.sqrt(2)
    return (best, last) if np.log10(last / best) >= 2 * scatter else None


def adam_lr_far_too_high(sig: RunSignals) -> tuple[float, str, float] | None:
    """(learning rate, optimizer as known, improvement after the first tenth) when an Adam-family optimizer
    (named by the log, or the Hugging Face Trainer's default AdamW) runs at ADAM_LR_CEILING or more and the
    loss stops improving after its first tenth: its last three tenths (their median, since the lowest of a
    few noisy tenths is low by luck) sit no more than 8% below the second."""
    lr = sig.lr
    optimizer = (sig.run.facts.optimizer or "").lower()
    if lr is None or not len(lr) or not sig.log_space or sig.n < 20:
        return None
    if "adam" in optimizer:
        name = sig.run.facts.optimizer or "Adam"
    elif not optimizer and sig.run.facts.framework == "huggingface":
        name = "AdamW (the Hugging Face Trainer's default; the log does not name the optimizer)"
    else:
        return None
    rate = float(np.median(lr.values))
    if rate < ADAM_LR_CEILING or _lr_lowered_or_jumping(sig):
        return None
    medians, se = sig.segments(10)
    gain = float(medians[1] - np.median(medians[-3:]))
    if gain > max(np.log10(1 / (1 - 0.08)), 3 * se):
        return None  # it keeps learning
    return rate, name, 1 - 10 ** -gain


def _lr_lowered_or_jumping(sig: RunSignals) -> bool:
    """Whether the schedule, not the step size, shapes the end of the run: an LR that jumps (step
    decay, warm restarts) or ends ten times below its peak. A stall under a decayed LR is no sign of
    steps too large."""
    lr = sig.lr
    if lr is None or not len(lr):
        return False
    return bool(sig.lr_jumps) or float(lr.values[-1]) <= 0.1 * float(np.max(lr.values))


@check("lr_too_high", "problem", "learning rate too high: the loss climbs or diverges")
def lr_too_high(sig: RunSignals) -> Finding | None:
    """Fires when the loss climbs well above its best level and stays there, when it reaches
    NaN/inf after a climb, or when it stops improving early while validation worsens.

    A climbing or stalled training loss with a growing gradient norm means the steps overshoot.
    Levels are medians of tenths of the run and a rise must exceed several standard errors of
    them, so isolated spikes and batch noise do not count. False positives: a
    warm restart of the LR schedule (the loss rises with the LR, see lr_schedule_jumps), a change
    of data mid-run, and a loss that fell to ~0 before climbing (that is adam_near_convergence).
    """
    if sig.n < (8 if sig.run.facts.step_unit == "epoch" else 20):
        return None
    evidence: list[str] = []
    steps: list[int] = []
    confidence = 0.0
    if len(sig.nonfinite_steps):
        first_bad = int(sig.nonfinite_steps[0])
        climb = climb_before(sig, first_bad)
        if climb is not None and climb >= 3 and not gradient_fell_before(sig, first_bad):
            evidence.append(
                f"the loss climbed to ×{fmt(climb)} its lowest level before it became NaN/inf at step {first_bad}"
            )
            steps.append(first_bad)
            confidence = 0.85
    rise = _rise(sig)
    growth = _grad_norm_growth(sig)
    grows = growth is not None and growth[1] >= GRAD_GROWTH * growth[0]
    val_rise = _val_rise(sig)
    if rise is not None:
        best, up, se = rise
        medians, _ = sig.segments(10)
        start_level = float(10 ** np.median(sig.y[:3]))
        best_level = float(10 ** medians[best])
        best_step = int(sig.steps[min(sig.n - 1, (best * sig.n) // len(medians) + sig.n // 20)])
        near_zero = best_level < start_level * 1e-4
        significant = up > MIN_RISE_SE * se
        where = f"around step {best_step}"
        if not near_zero and significant and up >= np.log10(MIN_RISE):
            evidence.append(
                f"the loss reached {fmt(best_level)} {where}, then climbed: over the last 15% of the run it"
                f" sits at {fmt(best_level * 10**up)} (×{fmt(10**up)}, {up / se:.0f} standard errors)"
            )
            steps.extend([best_step, int(sig.steps[-1])])
            confidence = max(confidence, 0.8 if up >= np.log10(3) else 0.7)
        elif not near_zero and up >= -se and val_rise is not None and not _lr_lowered_or_jumping(sig) \
                and best_level > start_level / 10:  # a loss that fell a decade first stopped at its floor
            # The training loss stopped improving early while validation worsens: too-large steps keep
            # it bouncing around instead of settling (overfitting would need a falling training loss).
            evidence.append(
                f"the training loss stopped improving {where} ({fmt(best_level)}) and ends at"
                f" {fmt(best_level * 10**up)}, while validation rose from its best {fmt(val_rise[0])} to"
                f" {fmt(val_rise[1])}"
            )
            steps.extend([best_step, int(sig.steps[-1])])
            confidence = max(confidence, 0.7 if grows else 0.55)
    excursion = _excursion(sig) if confidence < 0.75 else None
    if excursion is not None:
        before, peak, first, last = excursion
        at = [int(sig.steps[min(sig.n - 1, (k * sig.n) // 10)]) for k in (first, last + 1)]
        evidence.append(
            f"the loss had reached {fmt(before)}, then its level climbed to {fmt(peak)} (×{fmt(peak / before)}) and"
            f" stayed up for {last - first + 1} tenth{'s' if last > first else ''} of the run (steps {at[0]}–{at[1]})"
            " before it came down:"
            " the steps threw the model off, far beyond what single blow-ups do to a tenth's median"
        )
        steps.extend(at)
        confidence = max(confidence, 0.75)
    if sig.log_space and sig.n >= 12:
        head = float(np.median(sig.y[: max(3, sig.n // 20)]))
        tail = float(np.median(sig.y[-max(3, int(sig.n * 0.15)) :]))
        _, se = sig.segments(10)
        if tail - head > max(np.log10(1.1), 3 * se):
            evidence.append(
                f"the loss ends above where it started: {fmt(10**head)} over the first points, {fmt(10**tail)}"
                " over the last 15% — training made the model worse than at initialisation"
            )
            steps.extend([int(sig.steps[0]), int(sig.steps[-1])])
            confidence = max(confidence, 0.8)
        else:
            medians, se = sig.segments(10)
            later = medians[1:]
            if len(later) >= 5 and float(np.min(later)) >= head - se \
                    and float(np.max(later)) - head > max(np.log10(1.2), 3 * se):
                peak = int(np.argmax(later)) + 1
                evidence.append(
                    f"the loss rose from {fmt(10**head)} at the start to {fmt(10 ** float(medians[peak]))} (tenth"
                    f" {peak + 1} of the run) and no tenth of the run gets below where it started: the steps throw"
                    " the model away from where training began"
                )
                steps.extend([int(sig.steps[0]), int(sig.steps[-1])])
                confidence = max(confidence, 0.75)
        overshoot = _early_overshoot(sig)
        if overshoot is not None:
            start, peak, peak_step, recovered = overshoot
            # the peak is a median of three points (so one noisy batch cannot make it); name the highest logged
            # point beside it, where the plot shows the jump
            at = int(np.searchsorted(sig.steps, peak_step))
            near = slice(max(0, at - 1), min(sig.n, at + 2))
            highest = max(range(near.start, near.stop), key=lambda i: float(sig.y[i]))
            raw = 10 ** float(sig.y[highest]) if sig.log_space else float(sig.y[highest])
            shown = (f"{fmt(peak)} (step {peak_step}" if raw <= peak * 1.05 else
                     f"{fmt(raw)} at step {int(sig.steps[highest])} ({fmt(peak)} over the three points around step"
                     f" {peak_step}")
            evidence.append(
                f"in the first steps the loss jumped from {fmt(start)} to {shown}, ×"
                f"{fmt(peak / start)}): the first updates overshoot — no warmup, or an LR too high to start with"
                + ("" if recovered else f"; afterwards no tenth of the run gets ×1.5 below that start (lowest"
                   f" {fmt(10 ** float(np.min(sig.segments(10)[0])))})")
            )
            steps.append(peak_step)
            confidence = max(confidence, 0.55 if recovered else 0.75)
    adam_lr = adam_lr_far_too_high(sig)
    if confidence == 0.0 and adam_lr is not None:
        evidence.append(
            f"the learning rate is {fmt(adam_lr[0])} for {adam_lr[1]}, whose steps are about the learning rate"
            f" whatever the gradient: far above the 1e-5 to 3e-3 such optimizers train with; after its first"
            " tenth the loss ends "
            + (f"only {adam_lr[2]:.0%} lower" if adam_lr[2] >= 0.005 else "no lower")
            + " (a plateau it was thrown to)"
        )
        steps.extend([int(sig.steps[0]), int(sig.steps[-1])])
        confidence = 0.6
    thrown = first_update_jump(sig) if confidence == 0.0 and stalled(sig) else None
    if thrown is not None:
        first, peak, peak_step = thrown
        evidence.append(
            f"the first updates sent the loss from {fmt(first)} to {fmt(peak)} (step {peak_step}, ×{fmt(peak / first)})"
            " and it never got below its start after that: one step too large threw the model to a constant"
            " prediction it cannot leave (a learning rate too low, or a bug, would not move the loss up at once)"
        )
        steps.extend([peak_step, int(sig.steps[-1])])
        confidence = 0.65
    if confidence == 0.0 and (grows or val_rise is not None) and stalled(sig) and not _lr_lowered_or_jumping(sig):
        if val_rise is not None:
            what = f"validation rises from its best {fmt(val_rise[0])} to {fmt(val_rise[1])}"
        else:
            assert growth is not None
            what = f"the gradient norm grows ×{fmt(growth[1] / growth[0])}"
        evidence.append(
            f"the training loss makes no progress over the run while {what}: the steps keep overshooting"
            " instead of descending (a learning rate too low or a dead model would leave both flat)"
        )
        steps.extend([int(sig.steps[0]), int(sig.steps[-1])])
        confidence = 0.6
    if confidence == 0.0:
        return None
    if growth is not None:
        early, late = growth
        evidence.append(f"gradient norm: {fmt(early)} early, {fmt(late)} late (×{fmt(late / early)})")
        if grows:
            confidence = min(0.95, confidence + 0.1)
        blow_up = _grad_norm_blow_up(sig)
        if blow_up is not None:
            peak, peak_step, typical = blow_up
            evidence.append(
                f"the gradient norm peaked at {fmt(peak)} at step {peak_step}, ×{fmt(peak / typical)} its median"
                f" {fmt(typical)}: the gradient itself blew up there, which clipping would have capped"
            )
    else:
        evidence.append("no gradient-norm series in this log: a growing grad norm would confirm it")
    lr = sig.lr
    if lr is not None and len(lr):
        first, last = float(lr.values[0]), float(lr.values[-1])
        evidence.append(f"learning rate: {fmt(first)} at the start, {fmt(last)} at the end")
    ratio = sig.run.get("update_ratio")
    if ratio is not None and np.isfinite(ratio.values).any():
        typical = float(np.nanmedian(ratio.values))
        evidence.append(f"recorded update/weight ratio |Δw|/|w|: median {fmt(typical)} (healthy runs sit near 1e-3)")
        if typical >= 1e-2:
            confidence = min(0.97, confidence + 0.1)
    return Finding(
        id="lr_too_high",
        severity="problem",
        confidence=round(confidence, 3),
        title="The learning rate is too high: the loss climbs instead of settling",
        evidence=evidence,
        fix=for_framework(
            sig,
            cause="lr_too_high",
            torch=[
                "optimizer = torch.optim.AdamW(model.parameters(), lr=lr / 3)  # try 3-10x smaller",
                "scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr / 3, total_steps=n)",
                "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)",
            ],
            hf=["TrainingArguments(..., learning_rate=lr / 3, warmup_ratio=0.05, max_grad_norm=1.0)"],
            lightning=["Trainer(..., gradient_clip_val=1.0)  # and lower lr in configure_optimizers"],
            keras=["keras.optimizers.Adam(learning_rate=lr / 3, clipnorm=1.0)",
                   "keras.callbacks.ReduceLROnPlateau(monitor='loss', factor=0.5, patience=2)"],
        ),
        steps=sorted(set(steps)),
    )
