"""The loss falls below zero without bound: the objective has no minimum."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check

#: The negative loss must grow in size by at least this factor over the run.
MIN_GROWTH = 10.0


@check("loss_unbounded", "problem", "the loss diverges below zero (objective without a minimum)")
def loss_unbounded(sig: RunSignals) -> Finding | None:
    """Fires when the loss ends negative and its size grew at least ten-fold while negative.

    A training loss that can fall forever has no minimum: a likelihood maximised with the wrong
    sign, a custom loss that rewards growing outputs, or a regulariser with a flipped sign. The
    'improvement' is the weights growing. False positives: losses that are legitimately negative
    and bounded (a log-density of continuous data, some contrastive losses), which settle instead of
    growing ten-fold.
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
    evidence = [
        f"the loss is negative and keeps falling: {fmt(first_negative)} when it first went below zero,"
        f" {fmt(end)} at the end (×{fmt(growth)})",
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
