"""Host side of a flush: the copied device block plus the host facts become named series.

Kept apart from the recorder so that the per-step path (hooks, one row per step) and the once-per-flush
path (numpy over the block, the gradient noise scale) each read on their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lossdoctor.record import device_stats as ds
from lossdoctor.record.live import Block
from lossdoctor.record.noise_scale import GradientNoiseScale
from lossdoctor.record.store import Chunks

#: Columns of the device buffer, one row per step. `rec.step` writes all but the last; the global gradient
#: norm is filled in at flush time from the per-parameter norms of the block.
COLS = ("loss", "weight_norm", "update_norm", "local_grad_sq", "micro_grad_norm", "grad_norm")
LOSS, WEIGHT, UPDATE, LOCAL_SQ, MICRO_NORM, GRAD = range(len(COLS))


@dataclass(slots=True)
class HostRow:
    """What the host knows about one step when it is recorded (no device value among it).

    The recorder keeps each step as a plain tuple in this field order and builds these at flush time.
    """

    step: int
    batch_size: float
    train_mode: float
    epoch: float
    micro_batches: int
    loss: float
    lrs: tuple[float, ...]
    extra: dict[str, float] | None
    has_loss: bool
    has_grad: bool


@dataclass
class Flush:
    """One block of steps on the host.

    `host` holds the step block (rows × COLS), then the per-parameter gradient norms of every step
    (rows × n_layers; kept for the steps that are multiples of `detail_every`), then the Adam statistics.
    """

    rows: list[HostRow]
    host: torch.Tensor
    detail_every: int
    adam_steps: list[int]
    n_layers: int


def assemble(done: Flush, names: list[str], noise_scale: GradientNoiseScale, *, world_size: int,
             accumulation_averages: bool) -> tuple[Chunks, Block]:
    """The named series of one flush (for the store) and the per-step block (for the live checks)."""
    values = done.host.numpy().astype(np.float64)
    n, k = len(done.rows), len(COLS)
    table = values[: n * k].reshape(n, k)
    rest = values[n * k:]
    steps = np.array([r.step for r in done.rows], dtype=np.int64)
    loss = np.where(np.isnan(table[:, LOSS]), [r.loss for r in done.rows], table[:, LOSS])
    batch = np.array([r.batch_size for r in done.rows])
    mode = np.array([r.train_mode for r in done.rows])
    epoch = np.array([r.epoch for r in done.rows])
    micro = np.array([r.micro_batches for r in done.rows], dtype=np.float64)
    has_grad = np.array([r.has_grad for r in done.rows], dtype=bool)
    grad = np.where(has_grad, table[:, GRAD], math.nan)  # a row without a backward holds stale norms
    weight, update = table[:, WEIGHT], table[:, UPDATE]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = update / weight
    has_loss = np.array([r.has_loss for r in done.rows], dtype=bool)
    nonfinite = np.where(has_grad, (~np.isfinite(grad)).astype(np.float64), math.nan)
    loss = np.where(has_loss, loss, math.nan)
    gns = _noise_scale(table, batch, micro, noise_scale, world_size, accumulation_averages)
    columns: dict[str, np.ndarray] = {"loss": loss, "batch_size": batch, "grad_norm": grad,
                                      "weight_norm": weight, "update_norm": update, "update_ratio": ratio,
                                      "grad_nonfinite": nonfinite, "train_mode": mode, "epoch": epoch,
                                      "gradient_noise_scale": gns}
    if (micro > 1).any():
        columns["micro_batches"] = micro
    for g in range(max((len(r.lrs) for r in done.rows), default=0)):
        lr = np.array([r.lrs[g] if g < len(r.lrs) else math.nan for r in done.rows])
        columns["lr" if g == 0 else f"lr/group{g}"] = lr
    chunk: Chunks = {}
    for name, column in columns.items():
        keep = has_loss if name == "loss" else (has_grad if name == "grad_norm" else ~np.isnan(column))
        if keep.any():
            chunk[name] = (steps[keep], column[keep])
    extras: dict[str, tuple[list[int], list[float]]] = {}
    for r in done.rows:
        for name, v in (r.extra or {}).items():
            extras.setdefault(name, ([], []))[0].append(r.step)
            extras[name][1].append(v)
    chunk.update({name: (np.array(s, dtype=np.int64), np.array(v)) for name, (s, v) in extras.items()})
    per = rest[: n * done.n_layers].reshape(n, done.n_layers)
    detail = has_grad & (steps % done.detail_every == 0)
    if detail.any():
        chunk.update({f"grad_norm/{name}": (steps[detail], per[detail, j]) for j, name in enumerate(names)})
    if done.adam_steps:
        start = n * done.n_layers
        stats = rest[start: start + 3 * len(done.adam_steps)].reshape(-1, 3)
        adam_steps = np.array(done.adam_steps, dtype=np.int64)
        chunk.update({name: (adam_steps, stats[:, j]) for j, name in enumerate(ds.ADAM_STATS)})
    return chunk, Block(steps, loss, grad, nonfinite, batch, mode, epoch, ratio)


def _noise_scale(table: np.ndarray, batch: np.ndarray, micro: np.ndarray, noise_scale: GradientNoiseScale,
                 world_size: int, averages: bool) -> np.ndarray:
    """B_simple after each step that offered two batch sizes (DDP ranks, or accumulated micro-batches)."""
    out = np.full(len(table), math.nan)
    for i in range(len(table)):
        big_sq, b_big = table[i, GRAD] ** 2, batch[i]
        if world_size > 1 and np.isfinite(table[i, LOCAL_SQ]) and micro[i] == 1:
            small_sq, b_small = table[i, LOCAL_SQ], b_big / world_size
        elif world_size == 1 and micro[i] > 1 and np.isfinite(table[i, MICRO_NORM]):
            k = micro[i]
            # the first micro-batch's .grad holds g/k when the loss is divided by k (the usual way)
            small_sq = table[i, MICRO_NORM] ** 2 * (k * k if averages else 1.0)
            big_sq = big_sq if averages else big_sq / (k * k)
            b_small = b_big / k
        else:
            continue
        out[i] = noise_scale.update(small_sq, b_small, big_sq, b_big)
    return out
