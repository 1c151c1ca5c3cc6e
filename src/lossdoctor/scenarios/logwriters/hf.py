"""A Hugging Face `trainer_state.json`, with the Trainer's own averaging and NaN filtering.

The Trainer counts steps from 1, logs as `loss` the mean over the last `logging_steps` steps rounded
to 4 decimals (a one-step spike is diluted), logs the grad norm of the last step only, and the LR the
scheduler holds *after* the step (the next step's LR). With `logging_nan_inf_filter=True` (its
default) a NaN/inf step loss is replaced by `tr_loss / (1 + steps since the last log)` of the window
so far, so a NaN right after a log is logged as 0.0. A run without a recorded LR or grad norm (NaN)
gets entries without `learning_rate` / `grad_norm`, as a Trainer with no scheduler info would not.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lossdoctor.scenarios.logwriters._common import evals_by_step, has_grad_norm, known
from lossdoctor.scenarios.records import TrainLog


def write(
    log: TrainLog,
    out_dir: Path,
    logging_steps: int = 1,
    nan_inf_filter: bool = True,
    filename: str = "trainer_state.json",
) -> Path:
    if logging_steps < 1:
        raise ValueError("logging_steps must be >= 1")
    path = Path(out_dir) / filename
    history = _log_history(log, logging_steps, nan_inf_filter)
    spe = log.steps_per_epoch
    eval_steps = log.evals[1].step - log.evals[0].step if len(log.evals) > 1 else spe
    state: dict[str, Any] = {
        "best_global_step": None,
        "best_metric": None,
        "best_model_checkpoint": None,
        "epoch": log.steps[-1].epoch + (log.steps[-1].batch + 1) / spe,
        "eval_steps": eval_steps,
        "global_step": len(log.steps),
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": history,
        "logging_steps": logging_steps,
        "max_steps": log.epochs * spe,  # planned: HF keeps it when a run stops early
        "num_input_tokens_seen": 0,
        "num_train_epochs": log.epochs,
        "save_steps": 500,
        "stateful_callbacks": {
            "TrainerControl": {
                "args": {
                    "should_epoch_stop": False,
                    "should_evaluate": False,
                    "should_log": False,
                    "should_save": True,
                    "should_training_stop": True,
                },
                "attributes": {},
            }
        },
        "total_flos": 0.0,
        "train_batch_size": log.batch_size,
        "trial_name": None,
        "trial_params": None,
    }
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return path


def _log_history(log: TrainLog, logging_steps: int, nan_inf_filter: bool) -> list[dict[str, Any]]:
    evals = evals_by_step(log)
    with_grad = has_grad_norm(log)
    spe = log.steps_per_epoch
    per_step = log.runtime_s / max(len(log.steps), 1)
    history: list[dict[str, Any]] = []
    tr_loss = 0.0
    total_loss = 0.0
    last_logged = 0
    for i, r in enumerate(log.steps):
        if nan_inf_filter and not math.isfinite(r.loss):
            tr_loss += tr_loss / (1 + r.step - last_logged)
        else:
            tr_loss += r.loss
        global_step = r.step + 1
        epoch = r.epoch + (r.batch + 1) / spe
        if global_step % logging_steps == 0:
            next_lr = log.steps[i + 1].lr if i + 1 < len(log.steps) else r.lr
            entry: dict[str, Any] = {"epoch": epoch, "loss": round(tr_loss / (global_step - last_logged), 4)}
            if with_grad:
                entry["grad_norm"] = r.grad_norm
            if known(next_lr):
                entry["learning_rate"] = next_lr
            entry["step"] = global_step
            history.append(dict(sorted(entry.items())))
            total_loss += tr_loss
            tr_loss = 0.0
            last_logged = global_step
        if r.step in evals:
            runtime = round(per_step * 2, 4)
            history.append(
                {
                    "epoch": epoch,
                    "eval_loss": evals[r.step].val_loss,
                    "eval_runtime": runtime,
                    "eval_samples_per_second": round(log.batch_size / max(runtime, 1e-4), 3),
                    "eval_steps_per_second": round(1 / max(runtime, 1e-4), 3),
                    "step": global_step,
                }
            )
    total_loss += tr_loss
    steps = len(log.steps)
    runtime = round(log.runtime_s, 4)
    history.append(
        {
            "epoch": log.steps[-1].epoch + (log.steps[-1].batch + 1) / spe,
            "step": steps,
            "total_flos": 0.0,
            "train_loss": total_loss / steps,
            "train_runtime": runtime,
            "train_samples_per_second": round(log.dataset_size * log.epochs / max(runtime, 1e-4), 3),
            "train_steps_per_second": round(steps / max(runtime, 1e-4), 3),
        }
    )
    return history
