"""Gradient accumulation that averages per micro-batch when micro-batches hold unequal numbers of items.

`(loss_1 + … + loss_k) / k` with each `loss_i` a mean over its own items weighs an item of a micro-batch
with few items (short sequences, much padding, the small last batch) more than one of a full micro-batch.
The accumulated gradient is then not the gradient of the mean over the window, and its size changes
from window to window. Summing the per-item losses and dividing by the items of the whole window fixes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from .batches import Forward, batch_size_of
from .report import PreflightFinding

#: Largest/smallest item count ratio between micro-batches that counts as unequal weighting.
MAX_IMBALANCE = 1.2


def items_in(target: torch.Tensor, ignore_index: int) -> int:
    """Items the loss averages over: non-ignored tokens for integer targets with a sequence dim, else samples."""
    if not target.is_floating_point() and target.ndim >= 2:
        return int((target != ignore_index).sum())
    return int(target.shape[0]) if target.ndim else 1


def check_accumulation(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    forward: Forward,
    micro_batches: Iterable[Any],
    steps: int,
    ignore_index: int,
    last_batch: int | None,
) -> PreflightFinding | None:
    """Measures item counts and per-micro-batch losses, and how far mean-of-means is from the item mean."""
    counts: list[int] = []
    losses: list[float] = []
    with torch.no_grad():
        for batch in micro_batches:
            output, target = forward(model, batch)
            counts.append(items_in(target, ignore_index))
            losses.append(float(loss_fn(output, target)))
    if len(counts) < 2 or min(counts) <= 0:
        return None
    full = batch_size_of(batch) if counts else None
    imbalance = max(counts) / min(counts)
    evidence = [f"accumulating {steps} micro-batches per step; the micro-batches read hold {min(counts)}–"
                f"{max(counts)} items (ratio {imbalance:.2g})"]
    if last_batch and full and last_batch < full:
        evidence.append(f"the last micro-batch of every epoch holds {last_batch} samples instead of {full}: "
                        f"averaged per micro-batch, its samples count {full / last_batch:.2g}× more")
        imbalance = max(imbalance, full / last_batch)
    if imbalance < MAX_IMBALANCE:
        return None
    mean_of_means = sum(losses) / len(losses)
    item_mean = sum(c * v for c, v in zip(counts, losses, strict=True)) / sum(counts)
    evidence.append(f"on these batches: mean of micro-batch means {mean_of_means:.4g} vs mean over items "
                    f"{item_mean:.4g} ({abs(mean_of_means / item_mean - 1):.1%} apart)")
    return PreflightFinding(
        "accumulation_per_micro_batch", "warning",
        "Gradient accumulation normalises per micro-batch, not per item", evidence,
        ["criterion = nn.CrossEntropyLoss(reduction='sum', ignore_index=-100)  # sum per item...",
         "loss = criterion(logits.flatten(0, -2), labels.flatten()) / items_in_window  "
         "# ...divided by the items of all k micro-batches",
         "# Hugging Face Trainer (transformers>=4.46) does this itself when the model's forward accepts "
         "num_items_in_batch"], None, "small_batch_noise")
