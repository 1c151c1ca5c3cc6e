"""Synthetic classification data for the `a_*` families, beyond what `scenarios.data` offers.

Labels can be noisy on purpose: flipped labels (which only memorisation can fit) and labels drawn
from a soft teacher (inherently uncertain, "hard" examples) are what make memorisation visible.
"""

from __future__ import annotations

import torch


def clusters(
    n: int, d: int, classes: int, seed: int, spread: float = 1.0, label_noise: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian blobs around random class centres; a `label_noise` share of labels is reassigned at random."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, d, generator=g) * 2.0 / d**0.25
    labels = torch.randint(0, classes, (n,), generator=g)
    x = centres[labels] + spread * torch.randn(n, d, generator=g)
    flip = torch.rand(n, generator=g) < label_noise
    noisy = torch.where(flip, torch.randint(0, classes, (n,), generator=g), labels)
    return x, noisy


def teacher_labels(
    n: int, d: int, classes: int, seed: int, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels sampled from a random linear-tanh teacher's softmax: every label is partly a coin flip."""
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(d, 32, generator=g) / d**0.5
    w2 = torch.randn(32, classes, generator=g) / 32**0.5
    x = torch.randn(n, d, generator=g)
    logits = torch.tanh(x @ w1) @ w2 * (3.0 / temperature)
    labels = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=g).squeeze(1)
    return x, labels


def flip_labels(labels: torch.Tensor, classes: int, share: float, seed: int) -> torch.Tensor:
    """Reassign a `share` of labels uniformly at random (annotation noise)."""
    g = torch.Generator().manual_seed(seed + 7919)
    flip = torch.rand(len(labels), generator=g) < share
    return torch.where(flip, torch.randint(0, classes, labels.shape, generator=g), labels)
