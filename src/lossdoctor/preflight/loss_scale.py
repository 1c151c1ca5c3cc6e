"""Does the loss scale with the batch size? Compare the loss of a batch with the mean of its halves.

A per-sample mean gives the same number for a batch and for the mean of its halves. A loss divided by
the batch size once too often (seed 003) gives half of it (∝ 1/B), `reduction='sum'` twice (∝ B).
Then the smaller last batch of every epoch reports, and steps with, a loss of the wrong size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .batches import Forward, batch_size_of, slice_batch
from .report import PreflightFinding
from .source import describe, find_line

#: |exponent| below this is a per-sample mean; token-weighted means move it a little.
TOLERANCE = 0.3
_DIVIDE_BY_BATCH = r"/\s*(len\(|\w*batch_?size\b|[\w\.\[\]]+\.size\(0\)|[\w\.\[\]]+\.shape\[0\])"
_SUM = r"reduction\s*=\s*['\"]sum['\"]|\.sum\(\s*\)"


def _loss(model: nn.Module, loss_fn: Callable[..., torch.Tensor], forward: Forward, batch: Any) -> float:
    output, target = forward(model, batch)
    return float(loss_fn(output, target))


def measure_exponent(
    model: nn.Module, loss_fn: Callable[..., torch.Tensor], forward: Forward, batch: Any
) -> tuple[float, float, float] | None:
    """(exponent k of loss ∝ B^k, loss of the batch, mean loss of its halves), or None if not measurable."""
    size = batch_size_of(batch)
    if size < 4:
        return None
    half = size // 2
    with torch.no_grad():
        whole = _loss(model, loss_fn, forward, slice_batch(batch, 0, 2 * half))
        halves = [_loss(model, loss_fn, forward, slice_batch(batch, i * half, (i + 1) * half)) for i in (0, 1)]
    mean_halves = sum(halves) / 2
    if not (math.isfinite(whole) and math.isfinite(mean_halves)) or whole <= 0 or mean_halves <= 0:
        return None
    return math.log2(whole / mean_halves), whole, mean_halves


def check_loss_scale(
    model: nn.Module, loss_fn: Callable[..., torch.Tensor], forward: Forward, batch: Any
) -> tuple[PreflightFinding | None, float | None]:
    """A finding when the loss grows or shrinks with the batch size; also the measured exponent."""
    measured = measure_exponent(model, loss_fn, forward, batch)
    if measured is None:
        return None, None
    k, whole, mean_halves = measured
    if abs(k) < TOLERANCE:
        return None, k
    size = batch_size_of(batch) // 2 * 2
    evidence = [
        f"loss of a batch of {size}: {whole:.4g}; mean loss of its two halves of {size // 2}: {mean_halves:.4g} "
        f"(ratio {whole / mean_halves:.3g}); a per-sample mean gives ratio 1",
        f"so the loss scales ∝ B^{k:.2g}: a batch of b samples reports (b/B)^{k:.2g} times the loss of a full one",
    ]
    name = describe(loss_fn)
    if k < 0:
        where = find_line(loss_fn, _DIVIDE_BY_BATCH)
        title = "The loss is divided by the batch size once too often (it shrinks with the batch size)"
        fix = ["loss = criterion(output, target)  # the criterion already averages over the batch: "
               "no extra `/ batch_size`"]
        if where:
            code = where.split(": ", 1)[1].split("#", 1)[0]
            fix = [_strip_division(code) + "  # no second division by the batch size"]
    else:
        where = find_line(loss_fn, _SUM)
        title = "The loss is a sum over the batch (it grows with the batch size)"
        fix = [f"criterion = nn.{type(loss_fn).__name__}()  # reduction='mean': the loss no longer grows with B"
               if getattr(loss_fn, "reduction", None) == "sum"
               else "loss = criterion(output, target).mean()  # a mean over the batch, not a sum"]
        evidence.append(f"loss function: {name}")
    return PreflightFinding("loss_scales_with_batch", "problem", title, evidence, fix, where,
                            "partial_last_batch"), k


def _strip_division(code: str) -> str:
    """The same line without its trailing `/ len(x)`-style division."""
    import re

    return re.sub(_DIVIDE_BY_BATCH + r"[^\s#]*", "", code).rstrip()
