"""The guard's interventions as series: kept in a device buffer, copied to the host every N steps.

Each step writes one row on the device (no sync); every `flush_every` steps the buffer is copied once
and appended to `lossdoctor_guard.jsonl` in the run directory, which `lossdoctor diagnose` reads next
to the training log. A crash loses at most the rows since the last flush.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from .names import COLUMNS


class InterventionLog:
    """Per-step rows of (grad norm before clipping, clip factor, skipped, LR scale, loss)."""

    def __init__(self, device: torch.device, flush_every: int, path: Path | None) -> None:
        self.buffer = torch.zeros(flush_every, len(COLUMNS), device=device, dtype=torch.float32)
        self.steps: list[int] = []
        self.path = path
        self.rows: list[tuple[int, list[float]]] = []  # flushed rows, kept for `history()`
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")  # a fresh log per guard

    def write(self, step: int, values: list[torch.Tensor]) -> None:
        """Queue one row of 0-dim tensors (a copy on the device; nothing is read)."""
        row = torch.stack([v if v.dtype == torch.float32 else v.to(torch.float32) for v in values])
        self.buffer[len(self.steps)] = row.detach()
        self.steps.append(step)
        if len(self.steps) == len(self.buffer):
            self.flush()

    def flush(self) -> None:
        """Copy the pending rows to the host (one sync) and append them to the JSONL log."""
        if not self.steps:
            return
        values = self.buffer[: len(self.steps)].tolist()
        rows = list(zip(self.steps, values, strict=True))
        self.rows += rows
        self.steps = []
        if self.path is not None:
            with self.path.open("a") as f:
                for step, row in rows:
                    record = {"step": step} | {k: (v if math.isfinite(v) else None) for k, v in zip(COLUMNS, row,
                                                                                                     strict=True)}
                    f.write(json.dumps(record) + "\n")
