"""Seed 001: fine-tuning a text classifier with batch size 8 gives a very noisy train loss at every LR.

A bag-of-embeddings classifier on token sequences with 15% flipped labels, batch 8, AdamW with a
linear decay (the Hugging Face Trainer defaults), evaluated once per epoch. Each 8-example mean loss
jumps between easy batches and batches holding a flipped label, so the step-to-step noise is large
around a falling trend and looks alike at the three LRs, while validation stays fine. The embedding
starts "pretrained" (topic words already separated), so even the lowest LR adapts within an epoch.
Seed 0: the residual std around a 25-step moving average is 0.21 / 0.20 / 0.18 (0.45 / 0.42 / 0.37 of
the trend) at lr 1e-2 / 3e-3 / 1e-3; the loss falls from ~0.60-0.70 to ~0.44-0.48; val loss stays
0.46-0.47 (the label-noise floor is 0.42).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lossdoctor.scenarios.base import Scenario
from lossdoctor.scenarios.data import loader, noisy_text_classes
from lossdoctor.scenarios.loop import Progress, train
from lossdoctor.scenarios.records import TrainLog

BATCH = 8
N_TRAIN = 1200
N_VAL = 400
EPOCHS = 3
VOCAB = 200
LENGTH = 24
LRS = {"1e-2": 1e-2, "3e-3": 3e-3, "1e-3": 1e-3}


class BagClassifier(nn.Module):
    """Mean of token embeddings, then a small MLP: a stand-in for a pretrained encoder's head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(VOCAB, 32, mode="mean")
        self.head = nn.Sequential(nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 2))
        with torch.no_grad():  # "pretrained": topic words already point in opposite directions
            direction = torch.randn(32)
            direction = 3 * direction / direction.norm()
            self.embed.weight[: VOCAB // 2] += direction
            self.embed.weight[VOCAB // 2 :] -= direction

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(tokens))


def _train(seed: int, progress: Progress | None, lr: float) -> TrainLog:
    torch.manual_seed(seed)
    tokens, labels = noisy_text_classes(N_TRAIN + N_VAL, VOCAB, LENGTH, seed, label_noise=0.15)
    val_tokens, val_labels = tokens[N_TRAIN:], labels[N_TRAIN:]
    model = BagClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    total = EPOCHS * N_TRAIN // BATCH
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / total)
    return train(
        model,
        loader(tokens[:N_TRAIN], labels[:N_TRAIN], batch_size=BATCH, seed=seed),
        lambda m, batch: F.cross_entropy(m(batch[0]), batch[1]),
        optimizer,
        epochs=EPOCHS,
        dataset_size=N_TRAIN,
        batch_size=BATCH,
        scheduler=scheduler,
        evaluate=lambda m: float(F.cross_entropy(m(val_tokens), val_labels)),
        progress=progress,
    )


def _scenario(tag: str, lr: float) -> Scenario:
    return Scenario(
        f"seed001_small_batch_lr{tag}",
        "small_batch_noise",
        f"Text-like classifier, batch size 8, 15% label noise, AdamW lr={tag} with linear decay: a very "
        "noisy train loss around a falling trend; validation fine.",
        lambda seed, progress: _train(seed, progress, lr),
    )


SCENARIOS = [_scenario(tag, lr) for tag, lr in LRS.items()]
