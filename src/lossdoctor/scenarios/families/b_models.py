"""Small models shared by the `b_*` families: an MLP, a CNN, recurrent nets and a tiny transformer.

Kept tiny so a whole run stays near one second on one CPU thread; each is an ordinary architecture so
the failure a family reproduces is the one people meet with real models.
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(d_in: int, width: int, d_out: int, depth: int = 2) -> nn.Sequential:
    """`depth` ReLU hidden layers of `width` units."""
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """Two conv blocks and a linear classifier for `size`x`size` one-channel images."""

    def __init__(self, size: int = 16, width: int = 8, classes: int = 4) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(2 * width * (size // 4) ** 2, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images).flatten(1))


class SequenceNet(nn.Module):
    """Embedding (tokens) or a linear map (real inputs), one recurrent layer, a head on the last state."""

    def __init__(self, cell: str, d_in: int, hidden: int, d_out: int, vocab: int | None = None) -> None:
        super().__init__()
        self.embed: nn.Module = nn.Embedding(vocab, d_in) if vocab else nn.Identity()
        rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = rnn(d_in, hidden, batch_first=True)
        self.out = nn.Linear(hidden, d_out)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(self.embed(seq))
        return self.out(states[:, -1])


class TinyTransformer(nn.Module):
    """Token + position embeddings, a post-norm `nn.TransformerEncoder`, mean-pooled classifier.

    Post-norm (the original layout) is the one that needs warmup: without it a high LR destabilises it.
    """

    def __init__(self, vocab: int, length: int, d_model: int, classes: int, layers: int = 2) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(length, d_model) * 0.1)
        layer = nn.TransformerEncoderLayer(
            d_model, nhead=2, dim_feedforward=2 * d_model, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.tok(tokens) + self.pos).mean(1))
