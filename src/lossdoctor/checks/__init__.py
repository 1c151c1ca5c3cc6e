"""The rule registry: one check per cause, each with a stable id users can mute.

A check is a function `(signals) -> Finding | None` registered with `@check(...)`. Like a linter rule it
has an id, a severity, a one-line summary, and a docstring that says what it looks at and its known
false-positive modes (`lossdoctor checks` prints them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ..findings import Finding, Severity
from ..signals import RunSignals

CheckFn = Callable[[RunSignals], Finding | None]


@dataclass(frozen=True)
class Check:
    id: str
    severity: Severity
    summary: str
    fn: CheckFn

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip()


REGISTRY: dict[str, Check] = {}

#: Modules that hold checks, in the order they run; importing one registers its checks.
_MODULES = (
    "numerical_instability",
    "partial_last_batch",
    "adam_near_convergence",
    "lr_too_high",
    "overfitting",
    "unshuffled_data",
    "eval_mode_leak",
    "epoch_sawtooth",
    "outlier_batches",
    "exploding_gradients",
    "lr_schedule_jumps",
    "no_progress",
    "loss_unbounded",
    "small_batch_noise",
)


def check(id: str, severity: Severity, summary: str) -> Callable[[CheckFn], CheckFn]:
    """Register a check under a stable id."""

    def register(fn: CheckFn) -> CheckFn:
        if id in REGISTRY:
            raise ValueError(f"duplicate check id {id!r}")
        REGISTRY[id] = Check(id, severity, summary, fn)
        return fn

    return register


def all_checks() -> list[Check]:
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")
    return list(REGISTRY.values())
