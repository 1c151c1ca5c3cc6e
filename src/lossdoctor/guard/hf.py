"""The guard in a Hugging Face `Trainer`: `Trainer(..., callbacks=[GuardCallback()])`.

At the start of training the callback guards the Trainer's optimizer (the torch optimizer inside
Accelerate's wrapper): its `step()` becomes the guarded step. The loss of each micro-batch is taken
from the model's output (a forward hook, training mode only), so nothing is read on the host. The log
goes to `output_dir/lossdoctor_guard.jsonl`, next to the `trainer_state.json` of each checkpoint's
parent, and steps are numbered like HF's `global_step` (from 1).

The Trainer clips gradients itself first (`max_grad_norm`, 1.0 by default): the guard then sees
clipped norms. Set `max_grad_norm=0` to let the guard do the clipping.
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from .core import Guard


class GuardCallback(TrainerCallback):
    """Guards the Trainer's optimizer; `guard_options` go to `Guard` (e.g. `clip_z=4`)."""

    def __init__(self, log_dir: str | None = None, **guard_options: Any) -> None:
        self.log_dir = log_dir
        self.guard_options = guard_options
        self.guard: Guard | None = None
        self._hook: Any = None

    def _install(self, args: Any, state: Any, model: Any, optimizer: Any) -> None:
        if self.guard is not None or optimizer is None:
            return
        inner = getattr(optimizer, "optimizer", optimizer)  # Accelerate's AcceleratedOptimizer wraps it
        self.guard = Guard(inner, log_dir=self.log_dir or args.output_dir, start_step=state.global_step + 1,
                           **self.guard_options).install()
        if model is not None:
            self._hook = model.register_forward_hook(self._observe)

    def _observe(self, module: Any, inputs: Any, output: Any) -> None:
        if not module.training or self.guard is None:
            return
        loss = output.get("loss") if isinstance(output, dict) else getattr(output, "loss", None)
        if loss is not None:
            self.guard.observe(loss)

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                       **kwargs: Any) -> None:
        self._install(args, state, model, optimizer)

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                              **kwargs: Any) -> None:
        self._install(args, state, model, optimizer)  # where on_train_begin had no optimizer yet

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.guard is not None:
            self.guard.flush()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.guard is not None:
            self.guard.close()
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
