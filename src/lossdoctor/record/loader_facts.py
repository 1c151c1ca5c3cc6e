"""What a data loader tells about the run: steps per epoch, batch size, drop_last, dataset size.

These settle the partial-last-batch question: a loader that keeps a short last batch (`drop_last=False`)
and a dataset size that is not a multiple of the batch size make the last step of every epoch smaller.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any


def loader_facts(loader: Any, accumulation: int = 1) -> dict[str, Any]:
    """The facts a loader exposes; steps count optimizer steps (one per `accumulation` batches)."""
    if loader is None:
        return {}
    accumulation = max(int(accumulation), 1)
    facts: dict[str, Any] = {}
    with contextlib.suppress(TypeError):
        facts["steps_per_epoch"] = max(1, math.ceil(len(loader) / accumulation))
    batch = getattr(loader, "total_batch_size", None) or getattr(loader, "batch_size", None)
    if isinstance(batch, int) and not isinstance(batch, bool):
        facts["batch_size"] = batch * accumulation
    drop = getattr(loader, "drop_last", None)
    if drop is None:
        drop = getattr(getattr(loader, "batch_sampler", None), "drop_last", None)
    if isinstance(drop, bool):
        facts["drop_last"] = drop
    with contextlib.suppress(TypeError):
        facts["dataset_size"] = len(getattr(loader, "dataset", None))  # type: ignore[arg-type]
    return facts
