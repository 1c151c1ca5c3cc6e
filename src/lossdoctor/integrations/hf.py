"""Hugging Face `Trainer`: `trainer.add_callback(LossdoctorCallback("runs/x"))` records the run live.

What it records, and where it sees it:

- **gradient norm**: the recorder's end-of-backward callback, i.e. *before* the Trainer clips
  (`max_grad_norm`). HF's own `on_pre_optimizer_step` would see the gradients after clipping, and the
  `grad_norm` HF logs is only taken every `logging_steps`; this one is every optimizer step.
- **loss**: a forward hook on the model takes `outputs.loss` of every training forward pass (still on the
  device) and averages it over the micro-batches of the step; so the per-step loss is there even with
  `logging_steps=50`, and HF's NaN filter (`logging_nan_inf_filter`) does not hide a NaN. A model whose
  loss is computed outside `forward` (a custom `compute_loss`) gets no per-step loss from here.
- **batch size**: the first dimension of the model's first tensor input, summed over the micro-batches.
- **lr** per parameter group, **update/weight ratio**, **Adam state**: from the optimizer, as for a loop.
- **epoch** and loader facts: from `on_epoch_begin` and the train dataloader (length, batch size, drop_last).
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch
from transformers import TrainerCallback

from lossdoctor.record.loader_facts import loader_facts
from lossdoctor.record.recorder import Recorder, watch


class LossdoctorCallback(TrainerCallback):
    """Records every optimizer step of a `Trainer` into `run_dir/lossdoctor.db` (only the main process writes)."""

    def __init__(self, run_dir: str | os.PathLike[str] | None = None, **options: Any) -> None:
        self.run_dir = run_dir
        self.options = options
        self.recorder: Recorder | None = None
        self._hook: Any = None
        self._loss_sum: torch.Tensor | None = None
        self._losses = 0
        self._samples = 0
        self._epoch = 0

    # -- setup -------------------------------------------------------------------------------------
    def _start(self, args: Any, state: Any, model: Any, optimizer: Any, train_dataloader: Any) -> None:
        if self.recorder is not None or model is None or optimizer is None:
            return
        loader = train_dataloader
        run_dir = self.run_dir if self.run_dir is not None else args.output_dir
        meta = {"gradient_accumulation_steps": args.gradient_accumulation_steps,
                "max_grad_norm": args.max_grad_norm, "logging_steps": args.logging_steps}
        options = {"flush_every": 50, **self.options}
        self.recorder = watch(model, optimizer, run_dir=run_dir, framework="huggingface", meta=meta, **options)
        if loader is not None:
            self.recorder.add_facts(loader_facts(loader, args.gradient_accumulation_steps))
        self._hook = model.register_forward_hook(self._on_forward, with_kwargs=True)

    def _on_forward(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if not torch.is_grad_enabled() or self.recorder is None:
            return  # evaluation and prediction passes
        loss = output.get("loss") if isinstance(output, dict) else getattr(output, "loss", None)
        if isinstance(loss, torch.Tensor):
            value = loss.detach().float().mean()
            self._loss_sum = value if self._loss_sum is None else self._loss_sum + value
            self._losses += 1
        first = next((v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor) and v.dim()), None)
        if first is not None:
            self._samples += int(first.shape[0])

    # -- events ------------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, optimizer=None, train_dataloader=None, **kw):
        self._start(args, state, model, optimizer, train_dataloader)

    def on_epoch_begin(self, args, state, control, model=None, optimizer=None, train_dataloader=None, **kw):
        self._start(args, state, model, optimizer, train_dataloader)
        self._epoch = math.floor(state.epoch + 1e-9) if state.epoch is not None else self._epoch

    def on_step_end(self, args, state, control, **kw):
        rec = self.recorder
        if rec is None:
            return
        loss = None if self._loss_sum is None else self._loss_sum / max(self._losses, 1)
        rec.step(loss, batch_size=self._samples or None, epoch=self._epoch, step=state.global_step)
        self._loss_sum, self._losses, self._samples = None, 0, 0

    def on_evaluate(self, args, state, control, metrics=None, **kw):
        if self.recorder is not None and metrics:
            self.recorder.log(**{k: v for k, v in metrics.items() if k == "eval_loss"})

    def on_train_end(self, args, state, control, **kw):
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        if self.recorder is not None:
            self.recorder.close()

