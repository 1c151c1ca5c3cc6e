"""Eval-mode leak: evaluating mid-epoch with `model.eval()` and never switching back to `model.train()`.

The loop calls `model.train()` only at the start of each epoch, so after the first evaluation inside
an epoch the rest of that epoch trains with dropout off (and BatchNorm on frozen running statistics).
What a person sees: the train loss drops to a lower level right after the first mid-epoch evaluation,
stays there to the end of the epoch, and jumps back up at the next epoch start, every epoch; the
validation points sit exactly at those level changes. `train_mode="every_step"` in the params gives
the fixed twin (the loop calls `model.train()` before every step).
"""

from __future__ import annotations

import torch

from lossdoctor.scenarios.catalog import Family, Params, register
from lossdoctor.scenarios.data import shape_images
from lossdoctor.scenarios.families.a_data import clusters
from lossdoctor.scenarios.families.a_models import ConvNet, mlp
from lossdoctor.scenarios.loop import train_classifier
from lossdoctor.scenarios.records import TrainLog


def dropout_mlp_adam(seed: int, params: Params) -> TrainLog:
    """An MLP with dropout on Gaussian classes, Adam, evaluated `evals_per_epoch` times per epoch."""
    torch.manual_seed(seed)
    n, batch, d = params["n_train"], params["batch"], 20
    x, y = clusters(n + 512, d, 6, seed, spread=1.4, label_noise=0.05)
    model = mlp(d, params["width"], 6, depth=2, dropout=params["dropout"])
    optimizer = torch.optim.Adam(model.parameters(), lr=params["lr"])
    return train_classifier(
        model,
        optimizer,
        x,
        y,
        n,
        batch_size=batch,
        seed=seed,
        epochs=params["epochs"],
        evals_per_epoch=params["evals_per_epoch"],
        train_mode=params.get("train_mode", "epoch_start"),  # the bug: no model.train() after the eval
    )


def batchnorm_cnn_sgd(seed: int, params: Params) -> TrainLog:
    """A CNN with BatchNorm and head dropout on noisy pattern images, SGD + momentum."""
    torch.manual_seed(seed)
    n, batch, size = params["n_train"], params["batch"], 12
    images, labels = shape_images(n + 256, size, seed)
    g = torch.Generator().manual_seed(seed + 1)
    images = images + 1.5 * torch.randn(images.shape, generator=g)
    model = ConvNet(size, params["width"], 4, batchnorm=True, dropout=params["dropout"])
    optimizer = torch.optim.SGD(model.parameters(), lr=params["lr"], momentum=0.9)
    return train_classifier(
        model,
        optimizer,
        images,
        labels,
        n,
        batch_size=batch,
        seed=seed,
        epochs=params["epochs"],
        evals_per_epoch=params["evals_per_epoch"],
        train_mode=params.get("train_mode", "epoch_start"),
    )


#: The Hugging Face Trainer calls model.train() at the start of every training step, so a trainer_state.json
#: (which only the Trainer writes) cannot hold this leak: the loop that leaks writes its own log.
NO_LEAK_FORMATS = frozenset({"hf"})

register(
    Family(
        "eval_leak_dropout_mlp_adam",
        "eval_mode_leak",
        "MLP with dropout, Adam, evaluated several times per epoch, model.train() only at epoch start: "
        "the train loss drops after the first mid-epoch evaluation and jumps back at each epoch start.",
        dropout_mlp_adam,
        tune=(
            {"n_train": 1024, "batch": 32, "width": 128, "dropout": 0.5, "lr": 1e-3, "epochs": 6, "evals_per_epoch": 4},
            {"n_train": 768, "batch": 16, "width": 96, "dropout": 0.5, "lr": 5e-4, "epochs": 5, "evals_per_epoch": 2},
        ),
        report=(
            {"n_train": 1280, "batch": 32, "width": 192, "dropout": 0.4, "lr": 1e-3, "epochs": 5, "evals_per_epoch": 3},
            {"n_train": 2048, "batch": 64, "width": 128, "dropout": 0.5, "lr": 2e-3, "epochs": 8, "evals_per_epoch": 4},
            {"n_train": 640, "batch": 16, "width": 64, "dropout": 0.3, "lr": 1e-3, "epochs": 6, "evals_per_epoch": 2},
        ),
        hidden_in=NO_LEAK_FORMATS,
    )
)

register(
    Family(
        "eval_leak_batchnorm_cnn_sgd",
        "eval_mode_leak",
        "CNN with BatchNorm and dropout, SGD + momentum, evaluated mid-epoch, model.train() only at epoch "
        "start: the train loss changes level at the mid-epoch evaluation and changes back each epoch.",
        batchnorm_cnn_sgd,
        tune=(
            {"n_train": 768, "batch": 32, "width": 8, "dropout": 0.5, "lr": 0.02, "epochs": 5, "evals_per_epoch": 2},
            {"n_train": 512, "batch": 16, "width": 6, "dropout": 0.3, "lr": 0.01, "epochs": 5, "evals_per_epoch": 4},
        ),
        report=(
            {"n_train": 1024, "batch": 32, "width": 8, "dropout": 0.4, "lr": 0.03, "epochs": 4, "evals_per_epoch": 3},
            {"n_train": 640, "batch": 16, "width": 10, "dropout": 0.5, "lr": 0.01, "epochs": 5, "evals_per_epoch": 2},
            {"n_train": 1536, "batch": 64, "width": 8, "dropout": 0.3, "lr": 0.05, "epochs": 6, "evals_per_epoch": 4},
        ),
        hidden_in=NO_LEAK_FORMATS,
    )
)
