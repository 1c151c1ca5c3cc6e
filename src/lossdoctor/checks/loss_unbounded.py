"""The loss falls below zero without bound: the objective has no minimum."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check

#: The negative loss must grow in size by at least this factor over the run.
MIN_GROWTH = 10.0
#: ...and still fall at the end: over the last three tenths of the run by this share of its size.
STILL_FALLING = 0.2


@check("loss_unbounded", "problem", "the loss diverges below zero (objective without a minimum)")
def loss_unbounded(sig: RunSignals) -> Finding | None:
    """Fires when the loss ends negative and its size grew at least ten-fold while negative.

    A training loss that can fall forever has no minimum: a likelihood maximised with the wrong
    sign, a custom loss that rewards growing outputs, or a regulariser with a flipped sign. The
    'improvement' is the weights growing. False positives: losses that are legitimately negative
    and bounded (a log-density of continuous data, some contrastive losses), which settle: the loss must
    still fall by a fifth of its size over the last three tenths of the run.
    """
    if sig.n < 8 or sig.log_space:
        return None
    values = sig.values
    end = float(np.median(values[-max(1, sig.n // 10) :]))
    negative = values[values < 0]
    if end >= 0 or len(negative) < sig.n // 4:
        return None
    first_negative = float(negative[0])
    growth = end / first_negative if first_negative < 0 else 0.0
    if growth < MIN_GROWTH:
        return None
    # A negative but bounded loss (the log-density of continuous data) settles once it crosses zero, so its size
    # grows ten-fold from the first small negative value too; a loss without a minimum is still falling at the end.
    tenths = np.array_split(values, 10)
    fall_late = float(np.median(tenths[6])) - end
    if fall_late < STILL_FALLING * abs(end):
        return None
    evidence = [
        f"the loss is negative and keeps falling: {fmt(first_negative)} when it first went below zero,"
        f" {fmt(end)} at the end (×{fmt(growth)}), of which {fmt(fall_late)} in the last three tenths of the run",
        "a loss with a minimum would settle; this one improves only by making the outputs or weights larger",
    ]
    val = sig.val
    if val is not None and len(val) and float(val.values[-1]) < 0:
        evidence.append(f"validation follows it: {fmt(float(val.values[-1]))} at the end")
    return Finding(
        id="loss_unbounded",
        severity="problem",
        confidence=0.85,
        title="The loss falls without bound: the objective has no minimum",
        evidence=evidence,
        fix=[
            "# check the sign: a likelihood is maximised, so the loss is its negative",
            "loss = -log_likelihood.mean()  # or F.gaussian_nll_loss / F.nll_loss, which are bounded below",
            "# a custom loss must have a minimum; test it on a toy batch before training",
        ],
        steps=[int(sig.steps[0]), int(sig.steps[-1])],
    )
