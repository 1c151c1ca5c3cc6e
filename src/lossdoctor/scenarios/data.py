"""Synthetic data made in code (no downloads) and a fast batch loader with DataLoader semantics."""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset


def loader(
    *tensors: torch.Tensor, batch_size: int, seed: int, shuffle: bool = True, drop_last: bool = False
) -> DataLoader:
    """A `DataLoader` giving the same batches as `DataLoader(ds, batch_size, shuffle, drop_last)`.

    Batches are fetched by one fancy-index per batch instead of per-sample collation, which keeps the
    scenarios at seconds on a CPU; the sampler, reshuffling per epoch and last-batch size are torch's own.
    """
    ds = TensorDataset(*tensors)
    g = torch.Generator().manual_seed(seed)
    sampler = RandomSampler(ds, generator=g) if shuffle else range(len(ds))
    return DataLoader(ds, sampler=BatchSampler(sampler, batch_size, drop_last), batch_size=None)


def regression(n: int, d: int, seed: int, noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth nonlinear target of `d` Gaussian inputs, learnable by a small MLP."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, 1, generator=g) / d**0.5
    v = torch.randn(d, 1, generator=g) / d**0.5
    y = torch.tanh(x @ w) * 2 + (x @ v) ** 2 * 0.5 + noise * torch.randn(n, 1, generator=g)
    return x, y


def noisy_text_classes(
    n: int, vocab: int, length: int, seed: int, label_noise: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token sequences whose binary label depends on which 'topic' words they contain, with flipped labels.

    Label noise keeps the per-example loss uneven, so an 8-example batch mean jumps around like the
    fine-tuning loss in seed 001 while the model still learns.
    """
    g = torch.Generator().manual_seed(seed)
    topic = torch.randint(0, 2, (n,), generator=g)
    base = torch.randint(0, vocab, (n, length), generator=g)
    half = vocab // 2
    # Shift a third of the tokens into the half of the vocabulary that belongs to the topic.
    informative = torch.rand(n, length, generator=g) < 0.35
    topical = torch.randint(0, half, (n, length), generator=g) + topic[:, None] * half
    tokens = torch.where(informative, topical, base)
    flip = torch.rand(n, generator=g) < label_noise
    labels = torch.where(flip, 1 - topic, topic)
    return tokens, labels


def markov_sequences(
    n: int, items: int, history: int, seed: int, successors: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-item samples from a sparse random Markov chain: the last `history` items and the next one."""
    g = torch.Generator().manual_seed(seed)
    nxt = torch.stack([torch.randperm(items, generator=g)[:successors] for _ in range(items)])
    probs = torch.distributions.Dirichlet(torch.full((successors,), 0.7)).sample((items,))
    seqs = torch.empty(n, history + 1, dtype=torch.long)
    seqs[:, 0] = torch.randint(0, items, (n,), generator=g)
    for t in range(1, history + 1):
        choice = torch.multinomial(probs[seqs[:, t - 1]], 1, generator=g).squeeze(1)
        seqs[:, t] = nxt[seqs[:, t - 1], choice]
    return seqs[:, :history], seqs[:, history]


def shape_images(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One-channel images of four pattern classes (bars, stripes, blob, checker) under pixel noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    r = torch.arange(size, dtype=torch.float32)
    rows, cols = r[:, None].expand(size, size), r[None, :].expand(size, size)
    patterns = torch.stack(
        [
            torch.sin(rows * 0.8),
            torch.sin(cols * 0.8),
            torch.exp(-((rows - size / 2) ** 2 + (cols - size / 2) ** 2) / (size * 1.5)) * 2 - 0.5,
            torch.sin(rows * 0.8) * torch.sin(cols * 0.8) * 1.5,
        ]
    )
    shift = torch.randint(0, 4, (n,), generator=g)
    imgs = patterns[labels]
    imgs = torch.stack([torch.roll(im, int(s), dims=0) for im, s in zip(imgs, shift, strict=True)])
    imgs = imgs + 0.8 * torch.randn(n, size, size, generator=g)
    return imgs[:, None], labels
