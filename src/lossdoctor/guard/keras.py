"""The guard in Keras 3 with the torch backend: `model.fit(..., callbacks=[GuardCallback()])`.

When training starts, the callback wraps the model's optimizer `apply(grads, variables)` (what
Keras's torch `train_step` calls after `backward()`) and its loss computation. The gradients are
clipped in place before Keras's optimizer reads them; a skipped step restores the weights and every
optimizer variable (`iterations`, momentums, velocities) exactly, all on the device. Keras
optimizers keep their own `clipnorm`/`global_clipnorm`; the guard sees the gradients before those.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras
import torch

from .core import Guard


class KerasGuard(Guard):
    """A `Guard` over a Keras optimizer: parameters and state are Keras variables' torch tensors."""

    def __init__(self, optimizer: Any, variables: Sequence[Any], **options: Any) -> None:
        self.keras_optimizer = optimizer
        self.variables = list(variables)
        super().__init__(optimizer, params=[v.value for v in self.variables], **options)

    def state_entries(self) -> list[tuple[Any, torch.Tensor]]:
        return [((i, v.path), v.value) for i, v in enumerate(self.keras_optimizer.variables)]


class GuardCallback(keras.callbacks.Callback):
    """Guards the model's optimizer during `fit`; `guard_options` go to `Guard`."""

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, **guard_options: Any) -> None:
        super().__init__()
        if keras.backend.backend() != "torch":
            raise RuntimeError("lossdoctor's Keras guard needs the torch backend (KERAS_BACKEND=torch)")
        self.log_dir = log_dir
        self.guard_options = guard_options
        self.guard: KerasGuard | None = None
        self._restore: list[tuple[Any, str]] = []

    def on_train_begin(self, logs: Any = None) -> None:
        model, optimizer = self.model, self.model.optimizer
        self.guard = KerasGuard(optimizer, model.trainable_variables, log_dir=self.log_dir,
                                start_step=int(optimizer.iterations.numpy()), **self.guard_options)
        guard = self.guard
        original_apply, original_loss = optimizer.apply, model._compute_loss

        def apply(grads: Sequence[Any], trainable_variables: Sequence[Any] | None = None) -> Any:
            present = [g for g in grads if g is not None]
            return guard.guarded_update(present, None, lambda: original_apply(grads, trainable_variables))

        def compute_loss(*args: Any, **kwargs: Any) -> Any:
            loss = original_loss(*args, **kwargs)
            if kwargs.get("training", True):
                guard.observe(loss.detach())
            return loss

        optimizer.apply = apply
        model._compute_loss = compute_loss
        self._restore = [(optimizer, "apply"), (model, "_compute_loss")]

    def on_train_end(self, logs: Any = None) -> None:
        for owner, name in self._restore:
            owner.__dict__.pop(name, None)  # back to the class's method
        self._restore = []
        if self.guard is not None:
            self.guard.close()
