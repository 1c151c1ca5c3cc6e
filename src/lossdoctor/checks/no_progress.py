"""The loss never really decreases: the model is not learning (often stuck at chance level)."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check
from ._fix import for_framework

#: Below this relative improvement from the first points to the best level, nothing was learned.
MAX_IMPROVEMENT = 0.08
#: The start is the median of at most this many first points: a model can learn all it will in its first
#: twenty steps of thousands, and a twentieth of the log would then start on the plateau.
HEAD_POINTS = 5


def start_level(sig: RunSignals) -> float:
    """The loss at the start (log10 in log space), from the first few points."""
    return float(np.median(sig.y[: max(1, min(sig.n // 20, HEAD_POINTS))]))


def chance_level(loss: float) -> int | None:
    """k when `loss` is ln(k): the cross-entropy of a uniform guess over k classes.

    Only claimed when the match is far tighter than the spacing between ln(k) and ln(k+1) (about
    1/k): for large losses some integer always fits, and the claim would mean nothing.
    """
    if loss <= 0.5 or loss > np.log(1000):
        return None
    k = round(float(np.exp(loss)))
    return k if k >= 2 and abs(np.log(k) - loss) < 0.05 / k else None


def stalled(sig: RunSignals) -> bool:
    """Whether the loss never gets more than MAX_IMPROVEMENT below its first values and ends there (or a little
    above)."""
    if sig.n < (10 if sig.run.facts.step_unit == "epoch" else 24) or not sig.log_space:
        return False
    medians, se = sig.segments(10)
    head = start_level(sig)
    best = float(np.min(medians))
    end = float(medians[-1])
    margin = np.log10(1 + MAX_IMPROVEMENT)
    # It ends where it started, or above by no more than the tenths scatter: a run that never improved and ends a
    # little up learned nothing either (a clear climb is lr_too_high's), and must not read as healthy noise.
    return head - best <= max(margin, 3 * se) and -margin <= end - head <= max(margin, 3 * se)


def first_update_jump(sig: RunSignals) -> tuple[float, float, int] | None:
    """(first loss, peak, its step) when one of the first few points sits ×1.3 and three noise levels above
    the first: weaker than lr_too_high asks, but worth saying when nothing is learnt afterwards."""
    k = max(6, sig.n // 20)
    jump = sig.y[1:k] - sig.y[0]
    if not len(jump):
        return None
    peak = int(np.argmax(jump)) + 1
    if jump[peak - 1] < max(np.log10(1.3), 3 * sig.step_noise):
        return None
    return 10 ** float(sig.y[0]), 10 ** float(sig.y[peak]), int(sig.steps[peak])


@check("no_progress", "problem", "the loss does not decrease: the model is not learning")
def no_progress(sig: RunSignals) -> Finding | None:
    """Fires when, over a long enough run, the loss never falls more than 8% below its first
    values and ends where it started.

    A loss that sits at ln(k) is the cross-entropy of a uniform guess over k classes: the outputs
    carry no information. Usual causes: an LR far too low or so high that the model collapsed, a
    detached graph or parameters missing from the optimizer, labels not aligned with inputs, or a
    final activation that saturates. False positives: fine-tuning that starts at its best level,
    and a log that begins after the learning happened (resumed runs).
    """
    if not stalled(sig):
        return None
    medians, _ = sig.segments(10)
    head = start_level(sig)
    best = float(np.min(medians))
    end = float(medians[-1])
    start_value, end_value = 10**head, 10**end
    gain = 100 * (1 - 10 ** (best - head))
    evidence = [
        f"over {sig.n} logged points the loss goes from {fmt(start_value)} to {fmt(end_value)}; "
        + (f"its best tenth is only {gain:.1f}% below the start" if gain > 0.05 else "no tenth of the run is below"
           " its start"),
    ]
    k = chance_level(float(np.median(10 ** medians[-3:])))
    if k is not None:
        evidence.append(
            f"{fmt(end_value)} ≈ ln({k}) = {np.log(k):.4f}: the cross-entropy of a uniform guess over {k} classes"
            " (the model outputs carry no information)"
        )
    jump = first_update_jump(sig)
    if jump is not None:
        evidence.append(
            f"the first updates sent the loss from {fmt(jump[0])} to {fmt(jump[1])} (step {jump[2]}) before it"
            " settled here: steps too large can throw a model to a constant prediction, so try a 10x lower LR first"
        )
    lr = sig.lr
    if lr is not None and len(lr):
        evidence.append(f"learning rate {fmt(float(np.median(lr.values)))}")
    return Finding(
        id="no_progress",
        severity="problem",
        confidence=0.85 if k is not None else 0.7,
        title="The model is not learning: the loss stays where it started",
        evidence=evidence,
        fix=for_framework(
            sig,
            torch=[
                "# 1. can it overfit one batch? if not, the bug is in the model/loss, not the data",
                "x, y = next(iter(loader))",
                "for _ in range(200): opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); opt.step()",
                "# 2. are the parameters in the optimizer and do they get gradients?",
                "assert all(p.grad is not None for p in model.parameters() if p.requires_grad)",
                "# 3. try the LR 10x higher and 10x lower; check labels line up with inputs",
            ],
            keras=["model.fit(x[:64], y[:64], epochs=200)  # can it overfit one batch?",
                   "keras.optimizers.Adam(learning_rate=1e-3)  # and check the last activation matches the loss"],
        ),
        steps=[int(sig.steps[0]), int(sig.steps[-1])],
    )
