"""Preflight: catch the bugs that make a loss spike before the first training step.

`lossdoctor.preflight(model, loss_fn, loader, optimizer)` tests the loss function, the data loader, the
model and the optimizer on one or two real batches, in seconds, and gives each problem with the exact
line to change.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .checks import preflight
from .report import PreflightFinding, PreflightReport

__all__ = ["PreflightFinding", "PreflightReport", "preflight"]


class _CallablePackage(types.ModuleType):
    """`lossdoctor.preflight` is both this package and the function: importing a submodule of the package
    sets the attribute `lossdoctor.preflight` to the package, so the package must be callable too."""

    def __call__(self, *args: Any, **kwargs: Any) -> PreflightReport:
        return preflight(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
