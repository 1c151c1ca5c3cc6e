"""Epoch sawtooth: re-exposure to the examples seen one epoch ago, in a model that memorises and forgets.

With reshuffling each epoch, an example met early in an epoch was last seen about half an epoch
before (on average), one met late about one and a half epochs before. A model that fits individual
examples quickly and forgets them again (large Adam steps with a short second-moment memory, small
β2, capacity to memorise, inherently uncertain labels) therefore has a lower loss on the batches just
after each epoch starts. What a person sees: the train loss drops sharply at every epoch start and
creeps back up through the epoch, at a steady level, while validation loss stays flat or improves:
benign (if validation worsened, it would be overfitting).
"""

from __future__ import annotations

import torch

from lossdoctor.scenarios.catalog import Family, Params, register
from lossdoctor.scenarios.data import markov_sequences
from lossdoctor.scenarios.families.a_data import teacher_labels
from lossdoctor.scenarios.families.a_models import SequenceGRU, mlp
from lossdoctor.scenarios.loop import train_classifier
from lossdoctor.scenarios.records import TrainLog


def gru_adam(seed: int, params: Params) -> TrainLog:
    """A GRU predicting the next item of a random Markov chain (the next item is a coin flip among a few
    successors), AdamW with a large LR, small β2 and strong weight decay, evaluated twice per epoch.

    Weight decay is the forgetting: what one batch taught about its examples fades within about an
    epoch, so memorisation stays transient and validation does not pay for it.
    """
    torch.manual_seed(seed)
    n, batch, items = params["n_train"], params["batch"], 40
    hist, nxt = markov_sequences(n + 512, items, 8, seed)
    model = SequenceGRU(items, params["width"], items)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=params["lr"], betas=(0.9, params.get("beta2", 0.95)), weight_decay=params.get("wd", 0.0)
    )
    return train_classifier(
        model,
        optimizer,
        hist,
        nxt,
        n,
        batch_size=batch,
        seed=seed,
        epochs=params["epochs"],
        evals_per_epoch=params.get("evals_per_epoch", 2),
        clip=params.get("clip"),
    )


def mlp_adam(seed: int, params: Params) -> TrainLog:
    """A wide MLP on labels sampled from a soft teacher (every label partly random), AdamW, β2 0.95.

    Strong weight decay makes memorising the random part of each label transient (without it the same
    model memorises the set for good and validation climbs: that is overfitting, not this).
    """
    torch.manual_seed(seed)
    n, batch, d, classes = params["n_train"], params["batch"], 32, 4
    x, y = teacher_labels(n + 1024, d, classes, seed)
    model = mlp(d, params["width"], classes, depth=2)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=params["lr"], betas=(0.9, params.get("beta2", 0.95)), weight_decay=params.get("wd", 0.0)
    )
    return train_classifier(
        model,
        optimizer,
        x,
        y,
        n,
        batch_size=batch,
        seed=seed,
        epochs=params["epochs"],
        evals_per_epoch=params.get("evals_per_epoch", 1),
    )


register(
    Family(
        "sawtooth_gru_adam",
        "epoch_sawtooth",
        "GRU next-item model on a random Markov chain, AdamW with a large LR, beta2 <= 0.95 and strong "
        "weight decay, reshuffled every epoch: the loss drops at each epoch start and creeps up within "
        "the epoch; val stays flat.",
        gru_adam,
        tune=(
            {"n_train": 2048, "batch": 64, "width": 64, "lr": 2e-2, "epochs": 10, "wd": 0.5},
            {"n_train": 2048, "batch": 64, "width": 64, "lr": 3e-2, "epochs": 10, "wd": 0.3, "beta2": 0.9},
        ),
        report=(
            {"n_train": 1536, "batch": 32, "width": 64, "lr": 1e-2, "epochs": 10, "wd": 0.5},
            {"n_train": 1024, "batch": 32, "width": 64, "lr": 2e-2, "epochs": 12, "wd": 1.0},
            {"n_train": 3072, "batch": 96, "width": 96, "lr": 2e-2, "epochs": 8, "wd": 0.5, "evals_per_epoch": 1},
        ),
    )
)

register(
    Family(
        "sawtooth_mlp_adam",
        "epoch_sawtooth",
        "Wide MLP on soft-teacher labels (inherently uncertain), AdamW with beta2 <= 0.95, a large LR and "
        "strong weight decay, reshuffled every epoch: a steady sawtooth of epoch-start drops, validation "
        "not worsening.",
        mlp_adam,
        tune=(
            {"n_train": 4096, "batch": 64, "width": 256, "lr": 1e-2, "epochs": 8, "wd": 1.0},
            {"n_train": 3072, "batch": 64, "width": 192, "lr": 8e-3, "epochs": 10, "wd": 1.0, "evals_per_epoch": 2},
        ),
        report=(
            {"n_train": 5120, "batch": 64, "width": 384, "lr": 1e-2, "epochs": 6, "wd": 0.5},
            {"n_train": 2048, "batch": 32, "width": 256, "lr": 1.2e-2, "epochs": 8, "wd": 1.0, "beta2": 0.9},
            {"n_train": 6144, "batch": 128, "width": 256, "lr": 1.5e-2, "epochs": 8, "wd": 1.0},
        ),
    )
)
