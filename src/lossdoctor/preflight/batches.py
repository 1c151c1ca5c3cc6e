"""Getting (inputs, target) out of whatever a loader yields, slicing batches, and loader facts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

#: Runs the model on a batch and returns (output, target); the default handles tuples and HF-style dicts.
Forward = Callable[[nn.Module, Any], tuple[torch.Tensor, torch.Tensor]]


def batch_size_of(batch: Any) -> int:
    """The leading dimension of the first tensor in the batch."""
    for t in _tensors(batch):
        if t.ndim > 0:
            return int(t.shape[0])
    raise ValueError("the batch holds no tensor with a batch dimension")


def _tensors(batch: Any) -> Iterable[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        yield batch
    elif isinstance(batch, Mapping):
        yield from (v for v in batch.values() if isinstance(v, torch.Tensor))
    elif isinstance(batch, Sequence) and not isinstance(batch, str):
        yield from (v for v in batch if isinstance(v, torch.Tensor))


def slice_batch(batch: Any, start: int, stop: int) -> Any:
    """The samples start:stop of a batch, keeping its structure (tuple, list or dict)."""
    size = batch_size_of(batch)

    def cut(v: Any) -> Any:
        return v[start:stop] if isinstance(v, torch.Tensor) and v.ndim > 0 and v.shape[0] == size else v

    if isinstance(batch, Mapping):
        return type(batch)({k: cut(v) for k, v in batch.items()}) if isinstance(batch, dict) else \
            {k: cut(v) for k, v in batch.items()}
    if isinstance(batch, tuple):
        return tuple(cut(v) for v in batch)
    return [cut(v) for v in batch]


def default_forward(model: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """`(x, ..., y)` -> model(x, ...), y; `{"labels": y, **inputs}` -> model(**inputs) (its `.logits`), y."""
    if isinstance(batch, Mapping):
        if "labels" not in batch:
            raise ValueError("a dict batch needs a 'labels' entry (or pass forward=)")
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        out = model(**inputs)
        target = batch["labels"]
    elif isinstance(batch, Sequence) and len(batch) >= 2:
        out = model(*batch[:-1])
        target = batch[-1]
    else:
        raise ValueError("a batch must be (inputs..., target) or a dict with 'labels' (or pass forward=)")
    out = getattr(out, "logits", out)
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"the model returned {type(out).__name__}, not a tensor (pass forward=)")
    return out, target


@dataclass(frozen=True)
class LoaderFacts:
    """What a DataLoader will do, read from its attributes; None where it does not say."""

    dataset_size: int | None
    batch_size: int | None
    drop_last: bool
    #: "random", "sequential" or None (a custom sampler)
    order: str | None


def loader_facts(loader: Any) -> LoaderFacts:
    """Batch size, drop_last and sampling order, also for a BatchSampler passed as `sampler`."""
    from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

    try:
        size: int | None = len(loader.dataset)
    except (AttributeError, TypeError, NotImplementedError):
        size = None
    batch_size = getattr(loader, "batch_size", None)
    drop_last = bool(getattr(loader, "drop_last", False))
    sampler = getattr(loader, "batch_sampler", None)
    if batch_size is None:  # a batch sampler, given as batch_sampler= or as sampler= with batch_size=None
        for candidate in (getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
            if isinstance(candidate, BatchSampler):
                batch_size, drop_last, sampler = candidate.batch_size, candidate.drop_last, candidate
                break
    inner = getattr(sampler, "sampler", getattr(loader, "sampler", None))
    if isinstance(inner, RandomSampler):
        order: str | None = "random"
    elif isinstance(inner, SequentialSampler | range):
        order = "sequential"
    else:
        order = None
    return LoaderFacts(size, batch_size, drop_last, order)
