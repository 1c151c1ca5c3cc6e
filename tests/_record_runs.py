"""Small real training loops shared by the recorder tests (importable by subprocesses too)."""

from __future__ import annotations

import torch
from torch import nn


def regression_data(n: int = 200, dim: int = 10, seed: int = 0) -> torch.utils.data.TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen)
    y = x @ torch.randn(dim, 1, generator=gen) + 0.1 * torch.randn(n, 1, generator=gen)
    return torch.utils.data.TensorDataset(x, y)


def mlp(dim: int = 10, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(dim, 16), nn.ReLU(), nn.Linear(16, 1))


def ddp_worker(rank: int, world: int, tmp: str, steps: int) -> None:
    """One rank of a 2-process gloo DDP run: records with lossdoctor and writes its own reference figures."""
    import json
    import os

    import lossdoctor

    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp}/rendezvous", rank=rank,
                                         world_size=world)
    model = nn.parallel.DistributedDataParallel(mlp())
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    rec = lossdoctor.watch(model, opt, run_dir=os.path.join(tmp, f"run{rank}"), flush_every=4)
    data = regression_data(64 * world, seed=1)
    reference = {"loss": [], "grad_norm": [], "batch_size": []}
    for step in range(steps):
        size = 8 + 4 * rank  # the ranks' batches differ, so averages are checkable
        index = torch.arange(size) + (step * 20 + rank * 10) % 40
        x, y = data.tensors[0][index], data.tensors[1][index]
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 0.01)  # grads are all-reduced by now
        opt.step()
        rec.step(loss, batch_size=size)
        reference["loss"].append(loss.item())
        reference["grad_norm"].append(norm.item())
        reference["batch_size"].append(size)
    rec.close()
    with open(os.path.join(tmp, f"reference{rank}.json"), "w") as f:
        json.dump(reference, f)
    torch.distributed.destroy_process_group()
