"""Hugging Face `trainer_state.json`: the Trainer's `log_history` plus its logging settings.

What the format hides: each `loss` is the mean over `logging_steps` optimizer steps, and by default
(`logging_nan_inf_filter=True`) a NaN/inf step loss is replaced by the mean of the window, so a
reader must say so rather than pretend the curve is per-step.
"""

from __future__ import annotations

import math

import numpy as np

from lossdoctor.readers._build import Columns, build_run
from lossdoctor.run import Run, RunFacts

FORMAT = "hf_trainer_state"
#: Keys of the final summary entry (`trainer.train()` return value), not a series point.
_SUMMARY = {"train_runtime", "train_loss", "total_flos", "train_samples_per_second",
            "train_steps_per_second"}


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in {"nan", "inf", "-inf", "infinity", "-infinity"}:
        return float(value.strip().lower().replace("infinity", "inf"))
    return None


def looks_like(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("log_history"), list)


def read(path: str, doc: dict, *, loss_key: str | None = None) -> Run:
    """Series from `log_history` (train and eval entries), facts from the top-level settings."""
    cols = Columns()
    # Before transformers 4.51 the Trainer logged `learning_rate` after `lr_scheduler.step()` (the next step's
    # rate), since then the rate of the logged step; a window mean at a change mixes both rates either way.
    facts = RunFacts(framework="huggingface", lr_change_point_ambiguous=True)
    skipped_no_step = 0
    pairs: list[tuple[int, float]] = []
    loss_steps: list[int] = []
    for entry in doc["log_history"]:
        if not isinstance(entry, dict):
            continue
        step = entry.get("step")
        if not isinstance(step, int) or isinstance(step, bool):
            skipped_no_step += 1  # predict_* metrics carry no step
            continue
        if _SUMMARY & entry.keys() and "loss" not in entry:
            continue
        for key, value in entry.items():
            number = _number(value)
            if key == "step" or number is None:
                continue
            if key == "epoch":
                if "loss" in entry:
                    pairs.append((step, number))
                    cols.add(key, step, number)
                continue
            cols.add(key, step, number)
        if "loss" in entry:
            loss_steps.append(step)
    if skipped_no_step:
        facts.notes.append(f"skipped {skipped_no_step} log_history entries without a step "
                           "(predict/test metrics)")
    _facts(doc, facts, pairs, loss_steps)
    return build_run(path, FORMAT, cols, facts, loss_key=loss_key)


def _facts(doc: dict, facts: RunFacts, pairs: list[tuple[int, float]], loss_steps: list[int]) -> None:
    window = doc.get("logging_steps")
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        facts.loss_window = window
    elif len(loss_steps) >= 2:
        gaps = np.diff(np.unique(loss_steps))
        if len(gaps):
            facts.loss_window = int(np.median(gaps))
            facts.notes.append(f"logging_steps not recorded (old format); inferred {facts.loss_window} "
                               "from the spacing of the loss entries")
    batch = doc.get("train_batch_size")
    if isinstance(batch, int) and not isinstance(batch, bool) and batch > 0:
        facts.batch_size = batch
    facts.steps_per_epoch = steps_per_epoch(pairs, doc)
    planned = doc.get("max_steps")
    if isinstance(planned, int) and planned > 0:
        facts.planned_steps = planned
    filtered = doc.get("logging_nan_inf_filter")
    facts.nan_filtered = filtered is not False
    window = facts.loss_window or 1
    parts = [f"each HF loss is the mean over logging_steps={window} steps, so a one-step spike is diluted up to "
             f"{window}x"] if window > 1 else []
    if facts.nan_filtered:
        parts.append("HF replaces NaN/inf step losses by the window mean unless logging_nan_inf_filter=False, "
                     "so NaNs may be hidden")
    if parts:
        facts.notes.append("; ".join(parts))


def steps_per_epoch(pairs: list[tuple[int, float]], doc: dict) -> float | None:
    """Steps per epoch from (step, epoch) pairs, robust to epoch resets (resumed or streaming runs).

    Pairs are split where `epoch` goes backwards; within each segment the slope step/epoch is measured
    over the widest epoch span, because old formats round `epoch` to 2 decimals.
    """
    best: tuple[float, float] | None = None  # (epoch span, steps per epoch)
    segment: list[tuple[int, float]] = []
    for pair in [*pairs, None]:
        if pair is None or (segment and (pair[1] < segment[-1][1] or pair[0] < segment[-1][0])):
            if len(segment) >= 2:
                (s0, e0), (s1, e1) = segment[0], segment[-1]
                if e1 > e0 and s1 > s0 and (best is None or e1 - e0 > best[0]):
                    best = (e1 - e0, (s1 - s0) / (e1 - e0))
            segment = []
        if pair is not None:
            segment.append(pair)
    max_steps, epochs = doc.get("max_steps"), doc.get("num_train_epochs")
    ratio = None
    if (isinstance(max_steps, int) and isinstance(epochs, int | float) and 0 < epochs < 1e6
            and max_steps > 0):
        ratio = max_steps / epochs
    if best is None:
        return ratio
    span, slope = best
    if ratio is not None and abs(ratio - slope) <= max(0.02 * ratio, 0.01 / span * slope):
        return float(ratio)  # exact value, consistent with the logged epochs
    return float(round(slope, 1)) if math.isfinite(slope) else ratio
