"""Keras 3 (torch backend): `model.fit(..., callbacks=[LossdoctorCallback("runs/x")])` records the run live.

What it records, and where it sees it:

- **gradient norm**: with the torch backend Keras calls `loss.backward()` and then `optimizer.apply(...)`,
  which clips (`clipnorm`, `global_clipnorm`) into new tensors; the recorder's end-of-backward callback on
  the weights' torch parameters sees the gradients before any clipping.
- **loss**: Keras reports the running mean since the epoch began; the callback reads the loss tracker's
  weighted total and sample count and differences them, which gives each batch's own loss and its size
  exactly (also for a short last batch). Without that tracker, the running mean is differenced by batch.
- **update/weight ratio**: weights are snapshot in `on_train_batch_begin` and compared in
  `on_train_batch_end`; **lr** from `model.optimizer.learning_rate` (schedules included).
- Not recorded: Adam's state (Keras optimizers keep it in their own variables) and train/eval mode.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import keras

from lossdoctor.record.recorder import Recorder


class LossdoctorCallback(keras.callbacks.Callback):
    """Records every batch of `model.fit` into `run_dir/lossdoctor.db` (torch backend only)."""

    def __init__(self, run_dir: str | os.PathLike[str] = "runs/lossdoctor", **options: Any) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.options = options
        self.recorder: Recorder | None = None
        self._step = 0
        self._epoch = 0
        self._total = 0.0
        self._count = 0.0
        self._mean = 0.0
        self._batches = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        if keras.backend.backend() != "torch":
            print("lossdoctor: the Keras callback records with the torch backend only "
                  f"(this one is {keras.backend.backend()!r}); not recording", file=sys.stderr)
            return
        params = [(v.path, v.value) for v in self.model.trainable_weights]
        optimizer = getattr(self.model, "optimizer", None)
        meta: dict[str, Any] = {"optimizer": type(optimizer).__name__} if optimizer is not None else {}
        steps = (self.params or {}).get("steps")
        if isinstance(steps, int):
            meta["steps_per_epoch"] = steps
        self.recorder = Recorder(params, self.run_dir, framework="keras", meta=meta,
                                 **{"flush_every": 50, **self.options})

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._total = self._count = self._mean = 0.0
        self._batches = 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self.recorder is not None:
            self.recorder.before_update()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        rec = self.recorder
        if rec is None:
            return
        rec.after_update()
        loss, size = self._batch_loss(logs or {})
        rec.step(loss, batch_size=size, epoch=self._epoch, step=self._step, lr=self._lr())
        self._step += 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.recorder is not None and logs and "val_loss" in logs:
            self.recorder.log(val_loss=float(logs["val_loss"]))

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def _batch_loss(self, logs: dict) -> tuple[float | None, int | None]:
        """This batch's loss and size from the running totals Keras keeps (Keras syncs them each batch)."""
        tracker = getattr(self.model, "_loss_tracker", None)
        total, count = getattr(tracker, "total", None), getattr(tracker, "count", None)
        if total is not None and count is not None:
            new_total, new_count = _number(total), _number(count)
            size = new_count - self._count
            loss = (new_total - self._total) / size if size > 0 else math.nan
            self._total, self._count = new_total, new_count
            return loss, round(size) if size > 0 else None
        mean = logs.get("loss")
        if mean is None:
            return None, None
        self._batches += 1
        loss = self._batches * float(mean) - (self._batches - 1) * self._mean
        self._mean = float(mean)
        return loss, None

    def _lr(self) -> float | None:
        optimizer = getattr(self.model, "optimizer", None)
        try:
            return _number(optimizer.learning_rate) if optimizer is not None else None
        except Exception:
            return None


def _number(value: Any) -> float:
    return float(keras.ops.convert_to_numpy(value))
