"""Lightning: `Trainer(callbacks=[LossdoctorCallback("runs/x")])` records the run live.

What it records, and where it sees it:

- **gradient norm**: the recorder's end-of-backward callback. In automatic optimisation Lightning runs
  forward and backward inside `optimizer.step(closure)`, then unscales (AMP) and clips inside the closure;
  the recorder's callback runs when `backward()` returns, so it sees the gradients before clipping, and
  divides by the GradScaler's scale under 16-bit AMP (Lightning's `on_before_optimizer_step` would see them
  after unscaling and before clipping: the same values).
- **loss**: `outputs["loss"]` of `on_train_batch_end` (which Lightning divides by `accumulate_grad_batches`,
  even for a short last accumulation of the epoch), turned back into the mean loss over the micro-batches
  of the optimizer step. Kept on the device.
- **batch size**: Lightning's own `extract_batch_size(batch)`, summed over the micro-batches.
- **epoch**: `trainer.current_epoch`; **step**: `trainer.global_step` (optimizer steps).
- loader facts from `trainer.train_dataloader`; `val_loss` (when the module logs it) after each validation.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import torch
from lightning.pytorch import Callback
from lightning.pytorch.utilities.data import extract_batch_size

from lossdoctor.record.loader_facts import loader_facts
from lossdoctor.record.recorder import Recorder, watch


class LossdoctorCallback(Callback):
    """Records every optimizer step of a Lightning `Trainer` into `run_dir/lossdoctor.db` (rank 0 writes)."""

    def __init__(self, run_dir: str | os.PathLike[str] | None = None, **options: Any) -> None:
        self.run_dir = run_dir
        self.options = options
        self.recorder: Recorder | None = None
        self._loss: torch.Tensor | None = None
        self._samples = 0
        self._micro = 0
        self._last_step = 0
        self._k = 1

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if self.recorder is not None or not trainer.optimizers:
            return
        k = self._k = int(trainer.accumulate_grad_batches)
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        run_dir = self.run_dir if self.run_dir is not None else (trainer.log_dir or trainer.default_root_dir)
        self.recorder = watch(pl_module, trainer.optimizers[0], run_dir=run_dir, framework="lightning",
                              scaler=scaler, meta={"accumulate_grad_batches": k,
                                                   "gradient_clip_val": trainer.gradient_clip_val},
                              **{"flush_every": 50, **self.options})
        facts = loader_facts(trainer.train_dataloader, k)
        if isinstance(trainer.num_training_batches, int):
            facts["steps_per_epoch"] = max(1, -(-trainer.num_training_batches // k))
        self.recorder.add_facts(facts)
        self._last_step = trainer.global_step

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.recorder is None:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):
            value = loss.detach().float()
            self._loss = value if self._loss is None else self._loss + value
        self._micro += 1
        with contextlib.suppress(Exception):  # a batch without tensors: the size stays unknown
            self._samples += extract_batch_size(batch)
        if trainer.global_step > self._last_step:  # an optimizer step happened in this batch
            self._last_step = trainer.global_step
            loss = None if self._loss is None else self._loss * (self._k / max(self._micro, 1))
            self.recorder.step(loss, batch_size=self._samples or None, epoch=trainer.current_epoch,
                               step=trainer.global_step - 1)
            self._loss, self._samples, self._micro = None, 0, 0

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        value = trainer.callback_metrics.get("val_loss")
        if self.recorder is not None and isinstance(value, torch.Tensor) and not trainer.sanity_checking:
            self.recorder.log(val_loss=float(value))

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self.on_train_end(trainer, pl_module)
