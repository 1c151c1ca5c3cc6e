"""What the DataLoader will do: a small last batch each epoch, and no shuffling over sorted data."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from .batches import LoaderFacts
from .report import PreflightFinding

#: Samples read from the dataset to judge whether its order is sorted.
ORDER_SAMPLE = 256


def check_last_batch(facts: LoaderFacts, model: nn.Module, loss_exponent: float | None) -> PreflightFinding | None:
    """How small the last batch is, and what it does: wrong loss size, extra noise, or a BatchNorm crash."""
    n, b_full = facts.dataset_size, facts.batch_size
    if n is None or b_full is None or facts.drop_last or n % b_full == 0:
        return None
    last = n % b_full
    steps = math.ceil(n / b_full)
    evidence = [f"{n} samples in batches of {b_full} without drop_last: {steps} steps per epoch, the last with "
                f"{last} samples ({last / b_full:.0%} of a batch)"]
    fix = [f"loader = DataLoader(dataset, batch_size={b_full}, shuffle=True, drop_last=True)  "
           f"# or a batch size that divides {n}"]
    batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if loss_exponent is not None and abs(loss_exponent) >= 0.3:
        factor = (last / b_full) ** loss_exponent
        evidence.append(f"the loss scales ∝ B^{loss_exponent:.2g}, so that step reports and steps with "
                        f"{factor:.3g}× the loss of a full batch: a spike at the end of every epoch (seed 003)")
        return PreflightFinding("partial_last_batch", "problem", "The last batch of every epoch will spike",
                                evidence, fix, None, "partial_last_batch")
    if last == 1 and batch_norm:
        evidence.append("the model has BatchNorm: a batch of 1 raises 'Expected more than 1 value per channel "
                        "when training'")
        return PreflightFinding("partial_last_batch", "problem", "A last batch of 1 sample crashes BatchNorm",
                                evidence, fix, None, "partial_last_batch")
    evidence.append(f"its gradient averages {last} samples: about {math.sqrt(b_full / last):.2g}× noisier than a "
                    "full batch's" + (", and BatchNorm statistics over it are noisy too" if batch_norm else ""))
    level = "warning" if last / b_full < 0.25 else "info"
    return PreflightFinding("partial_last_batch", level, "The last batch of every epoch is small", evidence, fix,
                            None, "partial_last_batch")


def _target(sample: Any) -> float | None:
    value = sample[-1] if isinstance(sample, tuple | list) else sample.get("labels") if isinstance(sample, dict) \
        else None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        return float(value)
    return float(value) if isinstance(value, int | float) else None


def sortedness(dataset: Any) -> tuple[str, float] | None:
    """("label runs", share of expected label changes) or ("rank correlation", |ρ| with the index)."""
    try:
        n = len(dataset)
    except TypeError:
        return None
    if n < 8:
        return None
    idx = np.unique(np.linspace(0, n - 1, min(n, ORDER_SAMPLE)).astype(int))
    try:
        values = [_target(dataset[int(i)]) for i in idx]
    except Exception:  # any dataset error: skip the check rather than fail preflight
        return None
    if any(v is None for v in values):
        return None
    y = np.asarray(values, dtype=float)
    if np.all(y == np.round(y)) and len(np.unique(y)) <= max(2, len(y) // 8):
        _, counts = np.unique(y, return_counts=True)
        p = counts / counts.sum()
        expected = (1 - float(np.sum(p**2))) * (len(y) - 1)
        changes = float(np.count_nonzero(np.diff(y)))
        return "label runs", changes / expected if expected > 0 else 1.0
    ranks = np.argsort(np.argsort(y))
    rho = float(np.corrcoef(ranks, np.arange(len(y)))[0, 1]) if np.std(ranks) > 0 else 0.0
    return "rank correlation", abs(rho)


def check_shuffle(facts: LoaderFacts, dataset: Any, batch_size: int | None) -> PreflightFinding | None:
    """shuffle=False over a dataset whose targets look sorted (grouped by class, or ordered by value)."""
    if facts.order != "sequential":
        return None
    found = sortedness(dataset)
    fix = [f"loader = DataLoader(dataset, batch_size={batch_size or 'B'}, shuffle=True)  # reshuffled every epoch"]
    if found is None:
        return PreflightFinding("shuffle_off", "info", "shuffle is off", [
            "the loader reads the dataset in order every epoch; the order of the targets could not be read"],
            fix, None, "unshuffled_data")
    kind, value = found
    if kind == "label runs":
        looks_sorted = value < 0.3
        detail = (f"in {ORDER_SAMPLE if len(dataset) >= ORDER_SAMPLE else len(dataset)} samples spread over the "
                  f"dataset the label changes {value:.0%} as often as in a random order")
    else:
        looks_sorted = value > 0.5
        detail = f"the targets follow the dataset index with rank correlation {value:.2f}"
    if not looks_sorted:
        return PreflightFinding("shuffle_off", "info", "shuffle is off (the data does not look sorted)", [
            "the loader reads the dataset in the same order every epoch", detail,
            "fine for sequences that must stay in order; otherwise every epoch repeats the same loss profile"],
            fix, None, "unshuffled_data")
    return PreflightFinding("unshuffled_sorted_data", "problem", "shuffle is off and the dataset looks sorted", [
        "the loader reads the dataset in the same order every epoch", detail,
        "batches hold one class or one range of targets at a time: the loss swings within every epoch and "
        "repeats the same profile epoch after epoch"], fix, None, "unshuffled_data")
