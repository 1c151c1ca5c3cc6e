"""Steps too large for the loss surface: the loss climbs, oscillates wildly or diverges to NaN."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check
from ._fix import for_framework
from .numerical_instability import climb_before

#: The smoothed loss must end this many times above its lowest level to call it a climb.
MIN_RISE = 2.0


def _rise(sig: RunSignals) -> tuple[int, float, float] | None:
    """(index of the minimum, rise ratio to the end, rise ratio to the peak) of the loss trend."""
    if not sig.log_space:
        return None
    low_idx = int(np.argmin(sig.trend))
    if low_idx >= sig.n - max(5, sig.n // 20):
        return None
    tail = float(np.median(sig.y[-max(5, sig.n // 10) :]))
    peak = float(np.max(sig.trend[low_idx:]))
    return low_idx, 10 ** (tail - sig.trend[low_idx]), 10 ** (peak - sig.trend[low_idx])


def _grad_norm_growth(sig: RunSignals) -> tuple[float, float] | None:
    found = sig.grad_norm
    if found is None or len(found) < 20 or np.any(found.values <= 0):
        return None
    k = max(3, len(found) // 10)
    early = float(np.median(found.values[:k]))
    late = float(np.median(found.values[-k:]))
    return early, late


@check("lr_too_high", "problem", "learning rate too high: the loss climbs or diverges")
def lr_too_high(sig: RunSignals) -> Finding | None:
    """Fires when the smoothed loss climbs well above its lowest level and stays there, or when
    the loss reaches NaN/inf after a climb.

    A climbing training loss with a growing gradient norm means the steps overshoot. The rise is
    measured on the trend (a rolling median), so isolated spikes do not count. False positives: a
    warm restart of the LR schedule (the loss rises with the LR, see lr_schedule_jumps), a change
    of data mid-run, and a loss that fell to ~0 before climbing (that is adam_near_convergence).
    """
    if sig.n < 20:
        return None
    evidence: list[str] = []
    steps: list[int] = []
    confidence = 0.0
    if len(sig.nonfinite_steps):
        first_bad = int(sig.nonfinite_steps[0])
        climb = climb_before(sig, first_bad)
        if climb is not None and climb >= 3:
            evidence.append(
                f"the loss climbed ×{fmt(climb)} over the points before step {first_bad}, where it became NaN/inf"
            )
            steps.append(first_bad)
            confidence = 0.85
    rise = _rise(sig)
    if rise is not None:
        low_idx, to_end, to_peak = rise
        start_level = float(10 ** np.median(sig.y[: max(3, sig.n // 50)]))
        low_level = float(sig.level(low_idx))
        near_zero = low_level < start_level * 1e-4
        if to_end >= MIN_RISE and not near_zero:
            low_step = int(sig.steps[low_idx])
            evidence.append(
                f"the smoothed loss fell to {fmt(low_level)} at step {low_step}, then climbed to"
                f" {fmt(low_level * to_end)} by the end (×{fmt(to_end)}; peak ×{fmt(to_peak)})"
            )
            steps.extend([low_step, int(sig.steps[-1])])
            confidence = max(confidence, 0.8 if to_end >= 3 else 0.65)
    if confidence == 0.0:
        return None
    growth = _grad_norm_growth(sig)
    if growth is not None:
        early, late = growth
        evidence.append(f"gradient norm: {fmt(early)} early, {fmt(late)} late (×{fmt(late / early)})")
        if late > 2 * early:
            confidence = min(0.95, confidence + 0.1)
    else:
        evidence.append("no gradient-norm series in this log: a growing grad norm would confirm it")
    lr = sig.lr
    if lr is not None and len(lr):
        first, last = float(lr.values[0]), float(lr.values[-1])
        evidence.append(f"learning rate: {fmt(first)} at the start, {fmt(last)} at the end")
    return Finding(
        id="lr_too_high",
        severity="problem",
        confidence=round(confidence, 3),
        title="The learning rate is too high: the loss climbs instead of settling",
        evidence=evidence,
        fix=for_framework(
            sig,
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
