"""What the recorder needs to know about `torch.distributed`: rank, world size, and the averaging at flush."""

from __future__ import annotations

import torch


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside a process group."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean over ranks of a device tensor (a collective: every rank must call it at the same flush)."""
    _rank, size = world()
    if size == 1:
        return values
    out = values.clone()
    torch.distributed.all_reduce(out, op=torch.distributed.ReduceOp.SUM)
    return out / size


def is_ddp(model: torch.nn.Module | None) -> bool:
    return isinstance(model, torch.nn.parallel.DistributedDataParallel)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The user's module inside DDP (or `torch.compile`'s wrapper), so parameter names read naturally."""
    inner = getattr(model, "module", None) if is_ddp(model) else None
    inner = inner if inner is not None else model
    return getattr(inner, "_orig_mod", inner)


def syncs_gradients(model: torch.nn.Module | None) -> bool:
    """True when this backward all-reduces gradients (False inside DDP's `no_sync()`)."""
    return is_ddp(model) and bool(getattr(model, "require_backward_grad_sync", True))
