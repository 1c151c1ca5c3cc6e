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
