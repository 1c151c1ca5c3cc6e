"""Small helpers the writers share."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from lossdoctor.scenarios.records import EvalRecord, StepRecord, TrainLog


def logged_steps(log: TrainLog, log_every: int) -> Iterator[StepRecord]:
    """Steps a logger with a `log_every` cadence writes: global steps s with (s + 1) % log_every == 0."""
    if log_every < 1:
        raise ValueError("log_every must be >= 1")
    return (r for r in log.steps if (r.step + 1) % log_every == 0)


def known(value: float) -> bool:
    """Whether a recorded lr or grad norm exists: NaN marks a value the log never had (`strip_to_loss`)."""
    return not math.isnan(value)


def has_grad_norm(log: TrainLog) -> bool:
    """Whether the run logged its gradient norm at all; if it did, a NaN norm is a real NaN and is written
    (frameworks write what `clip_grad_norm_` returned, NaN included)."""
    return any(known(r.grad_norm) for r in log.steps)


def has_lr(log: TrainLog) -> bool:
    """Whether the run logged its LR at all (column-based formats drop the column when not)."""
    return any(known(r.lr) for r in log.steps)


def evals_by_step(log: TrainLog) -> dict[int, EvalRecord]:
    return {e.step: e for e in log.evals}


def f32(value: float) -> float:
    """The value as a float32 read back into Python, as Keras and Lightning log tensors."""
    return float(np.float32(value))


def fmt_csv(value: float | int | None) -> str:
    """A CSV cell: empty for missing, Python's repr otherwise ('nan', 'inf' included)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return repr(value) if isinstance(value, float) else str(value)
