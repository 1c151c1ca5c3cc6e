"""The guard in Lightning: `Trainer(..., callbacks=[GuardCallback()])`.

When training starts, every optimizer of the Trainer gets a guarded `step()`. Lightning calls
`optimizer.step(closure)` with a closure that runs forward, backward and its own gradient clipping
(`gradient_clip_val`); the guarded step runs the closure first, then clips, skips or backs off on the
device. The loss comes from `on_before_backward`. The log goes to the Trainer's `log_dir` (next to
`metrics.csv` with a CSVLogger), or a sub-folder per optimizer when there are several.
"""

from __future__ import annotations

import os
from typing import Any

from lightning.pytorch.callbacks import Callback

from .core import Guard


class GuardCallback(Callback):
    """Guards the Trainer's optimizers; `guard_options` go to `Guard` (e.g. `clip_z=4`)."""

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, **guard_options: Any) -> None:
        self.log_dir = log_dir
        self.guard_options = guard_options
        self.guards: list[Guard] = []

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        folder = self.log_dir or trainer.log_dir or trainer.default_root_dir
        optimizers = list(trainer.optimizers)
        for i, optimizer in enumerate(optimizers):
            where = folder if len(optimizers) == 1 else os.path.join(folder, f"optimizer_{i}")
            self.guards.append(Guard(optimizer, log_dir=where, start_step=trainer.global_step,
                                     **self.guard_options).install())

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: Any) -> None:
        for guard in self.guards:
            guard.observe(loss)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        for guard in self.guards:
            guard.close()
