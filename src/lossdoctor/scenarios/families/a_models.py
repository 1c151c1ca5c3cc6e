"""Small models the `a_*` families share: each is the usual shape of its kind, sized by parameters.

Kept tiny so a run takes about a second on one CPU thread, yet large enough to memorise a few
hundred examples, which several causes (overfitting, re-exposure) need.
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(d_in: int, width: int, d_out: int, depth: int = 2, dropout: float = 0.0) -> nn.Sequential:
    """`depth` hidden ReLU layers of `width`, with dropout after each when asked."""
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        d = width
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


class ConvNet(nn.Module):
    """Two conv blocks and a linear head for one-channel square images; optional BatchNorm and dropout."""

    def __init__(self, size: int, width: int, classes: int, batchnorm: bool = False, dropout: float = 0.0):
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            norm: list[nn.Module] = [nn.BatchNorm2d(c_out)] if batchnorm else []
            return [nn.Conv2d(c_in, c_out, 3, padding=1), *norm, nn.ReLU(), nn.MaxPool2d(2)]

        self.features = nn.Sequential(*block(1, width), *block(width, 2 * width))
        head: list[nn.Module] = [nn.Flatten(), nn.Linear(2 * width * (size // 4) ** 2, 4 * width), nn.ReLU()]
        if dropout:
            head.append(nn.Dropout(dropout))
        self.head = nn.Sequential(*head, nn.Linear(4 * width, classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class SequenceGRU(nn.Module):
    """Token embedding, one GRU layer, logits from the last hidden state."""

    def __init__(self, vocab: int, width: int, classes: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, width // 2)
        self.gru = nn.GRU(width // 2, width, batch_first=True)
        self.out = nn.Linear(width, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _, hidden = self.gru(self.embed(tokens))
        return self.out(hidden[-1])


class TinyTransformer(nn.Module):
    """A one- or two-layer transformer encoder over tokens, mean-pooled into class logits."""

    def __init__(
        self, vocab: int, length: int, width: int, classes: int, layers: int = 1, dropout: float = 0.0
    ):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.randn(length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            width, nhead=2, dim_feedforward=2 * width, dropout=dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(width, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(tokens) + self.pos[: tokens.shape[1]])
        return self.out(h.mean(dim=1))
