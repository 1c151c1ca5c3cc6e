"""Helpers shared by the `b_*` families: optimizers by name, warmup schedules, stop-at-NaN.

Nothing here registers a family; it keeps each family module down to its model, data and bug.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import torch

from lossdoctor.scenarios.records import TrainLog


def optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """The optimizers people use, with their usual settings: `sgd` means SGD with momentum 0.9."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "sgd_plain":
        return torch.optim.SGD(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}")


def warmup_cosine(
    opt: torch.optim.Optimizer, total: int, warmup_frac: float = 0.1
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over `warmup_frac` of the run, then cosine decay to 0: the usual healthy schedule."""
    warmup = max(1, int(total * warmup_frac))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def stop_at_nonfinite(log: TrainLog) -> TrainLog:
    """The run a loop that stops at the first inf/NaN loss would have logged (that step included).

    The past does not depend on the future, so cutting the records after that step is exactly what a
    `if not torch.isfinite(loss): break` loop leaves behind; evaluations after it never happened.
    """
    bad = next((r.step for r in log.steps if not math.isfinite(r.loss)), None)
    if bad is None:
        return log
    steps = log.steps[: bad + 1]
    evals = tuple(e for e in log.evals if e.step <= bad)
    fraction = (bad + 1) / len(log.steps)
    return dataclasses.replace(
        log, steps=steps, evals=evals, epochs=steps[-1].epoch + 1, runtime_s=log.runtime_s * fraction
    )
