"""Seed 000: a GRU next-item model evaluated 4 times per epoch, at three learning rates.

One-layer GRU over the last 10 items of sequences from a sparse random Markov chain (60 items, 4
successors each), cross-entropy on logits, Adam, batch 64, 2048 training samples. Like the person, it
evaluates every 25% of an epoch and reports as train loss the mean over the batches since the last
evaluation. What a person sees (seed 0, 10 epochs):

- lr=1e-3: smooth, still learning (train 4.08 -> 1.24, val 4.01 -> 1.46); no epoch pattern.
- lr=1e-2: train falls to ~0.85 while val bottoms at ~1.26 (epoch 4) and rises to ~1.42: mild
  overfitting; a weak sawtooth (first-quarter train mean 0.98 vs ~1.03 later in the epoch).
- lr=5e-2: the seed's picture. Train is lowest at the first evaluation of each epoch and climbs
  through it (quarter means over epochs 3-10: 1.47, 1.65, 1.71, 1.76), the train loss grows from
  1.30 (epoch 3) to ~1.8, val grows from 1.70 to ~2.25, gradient norms are larger and spikier
  (median 1.16, max 9.6, vs 0.67/0.88 at 1e-3): too large updates, so `lr_too_high`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.base import Scenario
from lossdoctor.scenarios.data import loader, markov_sequences
from lossdoctor.scenarios.loop import Progress, train
from lossdoctor.scenarios.records import TrainLog

ITEMS = 60
HISTORY = 10
BATCH = 64
N_TRAIN = 2048
N_VAL = 512
EPOCHS = 10
EVALS_PER_EPOCH = 4
#: tag -> (lr, cause the run reproduces)
LRS: dict[str, tuple[float, str | None]] = {
    "1e-3": (1e-3, None),
    "1e-2": (1e-2, "overfitting"),  # val bottoms at epoch 4 (1.26) and ends at 1.42 while train falls
    "5e-2": (5e-2, "lr_too_high"),
}


class NextItemGRU(nn.Module):
    """Item embedding, one unidirectional GRU layer, logits over items from the last hidden state."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(ITEMS, 32)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.out = nn.Linear(64, ITEMS)

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        _, hidden = self.gru(self.embed(history))
        return self.out(hidden[-1])


def _train(seed: int, progress: Progress | None, lr: float) -> TrainLog:
    torch.manual_seed(seed)
    hist, nxt = markov_sequences(N_TRAIN + N_VAL, ITEMS, HISTORY, seed)
    val_hist, val_next = hist[N_TRAIN:], nxt[N_TRAIN:]
    model = NextItemGRU()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return train(
        model,
        loader(hist[:N_TRAIN], nxt[:N_TRAIN], batch_size=BATCH, seed=seed),
        lambda m, batch: F.cross_entropy(m(batch[0]), batch[1]),
        optimizer,
        epochs=EPOCHS,
        dataset_size=N_TRAIN,
        batch_size=BATCH,
        evaluate=lambda m: float(F.cross_entropy(m(val_hist), val_next)),
        evals_per_epoch=EVALS_PER_EPOCH,
        progress=progress,
    )


def _scenario(tag: str, lr: float, cause: str | None) -> Scenario:
    return Scenario(
        f"seed000_gru_lr{tag}",
        cause,
        f"One-layer GRU next-item prediction, Adam lr={tag}, evaluated 4 times per epoch.",
        lambda seed, progress: _train(seed, progress, lr),
    )


SCENARIOS = [_scenario(tag, lr, cause) for tag, (lr, cause) in LRS.items()]
