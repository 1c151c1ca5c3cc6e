"""Unshuffled data: `shuffle=False` on a dataset stored in a fixed order, so every epoch is the same.

What a person sees: the per-step loss traces the same profile in every epoch, position by position:
blocks of low and high loss where the classes or data sources lie in the file, and even the small
batch-to-batch wiggles recur, because each batch holds the same examples each epoch. With classes
in blocks the model also chases the class of the moment, so the loss jumps at every block border.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lossdoctor.scenarios.catalog import Family, Params, register
from lossdoctor.scenarios.data import loader, noisy_text_classes
from lossdoctor.scenarios.families.a_data import clusters
from lossdoctor.scenarios.families.a_models import TinyTransformer, mlp
from lossdoctor.scenarios.loop import train
from lossdoctor.scenarios.records import TrainLog


def sorted_mlp_sgd(seed: int, params: Params) -> TrainLog:
    """An MLP on 5 Gaussian classes stored sorted by label (as `ImageFolder`-style listings are), SGD.

    `shuffle` (default False, the bug) turns the loader's shuffling on for the healthy twin.
    """
    torch.manual_seed(seed)
    n, batch, d, classes = params["n_train"], params["batch"], 16, 5
    x, y = clusters(n + 512, d, classes, seed, spread=1.2, label_noise=0.05)
    order = torch.argsort(y[:n], stable=True)  # the file lists class 0 first, then class 1, ...
    model = mlp(d, params["width"], classes, depth=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=params["lr"], momentum=0.9)
    return train(
        model,
        loader(x[:n][order], y[:n][order], batch_size=batch, seed=seed, shuffle=params.get("shuffle", False)),
        lambda m, b: F.cross_entropy(m(b[0]), b[1]),
        optimizer,
        epochs=params["epochs"],
        dataset_size=n,
        batch_size=batch,
        evaluate=lambda m: float(F.cross_entropy(m(x[n:]), y[n:])),
    )


#: Label noise of the concatenated data sources, in file order: some sources are cleaner than others.
SOURCE_NOISE = (0.02, 0.3, 0.1, 0.4)


def sources_transformer_adamw(seed: int, params: Params) -> TrainLog:
    """A tiny transformer classifying token sequences, the training set a concatenation of four sources
    of different label quality, never shuffled; AdamW.

    `shuffle` (default False, the bug) turns the loader's shuffling on for the healthy twin.
    """
    torch.manual_seed(seed)
    n, batch, vocab, length = params["n_train"], params["batch"], 64, 16
    per = n // len(SOURCE_NOISE)
    parts = [noisy_text_classes(per, vocab, length, seed * 10 + i, q) for i, q in enumerate(SOURCE_NOISE)]
    tokens = torch.cat([p[0] for p in parts])
    labels = torch.cat([p[1] for p in parts])
    val_tokens, val_labels = noisy_text_classes(512, vocab, length, seed * 10 + 9, 0.0)
    model = TinyTransformer(vocab, length, params["width"], 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params["lr"], weight_decay=0.01)
    return train(
        model,
        loader(tokens, labels, batch_size=batch, seed=seed, shuffle=params.get("shuffle", False)),
        lambda m, b: F.cross_entropy(m(b[0]), b[1]),
        optimizer,
        epochs=params["epochs"],
        dataset_size=len(tokens),
        batch_size=batch,
        evaluate=lambda m: float(F.cross_entropy(m(val_tokens), val_labels)),
        evals_per_epoch=params.get("evals_per_epoch", 1),
    )


register(
    Family(
        "unshuffled_sorted_mlp_sgd",
        "unshuffled_data",
        "MLP on 5 classes stored sorted by label, shuffle=False, SGD + momentum: the loss profile of "
        "every epoch repeats, jumping at each class border as the model chases the current class.",
        sorted_mlp_sgd,
        tune=(
            {"n_train": 640, "batch": 32, "width": 64, "lr": 0.02, "epochs": 12},
            {"n_train": 960, "batch": 16, "width": 128, "lr": 0.01, "epochs": 8},
        ),
        report=(
            {"n_train": 800, "batch": 32, "width": 96, "lr": 0.03, "epochs": 10},
            {"n_train": 480, "batch": 8, "width": 64, "lr": 0.005, "epochs": 8},
            {"n_train": 1600, "batch": 64, "width": 128, "lr": 0.05, "epochs": 14},
        ),
    )
)

register(
    Family(
        "unshuffled_sources_transformer_adamw",
        "unshuffled_data",
        "Tiny transformer classifier, training data concatenated from four sources of different label "
        "noise, shuffle=False, AdamW: the same loss profile (source blocks and batch wiggles) every epoch.",
        sources_transformer_adamw,
        tune=(
            {"n_train": 512, "batch": 32, "width": 32, "lr": 1e-3, "epochs": 12},
            {"n_train": 768, "batch": 16, "width": 24, "lr": 5e-4, "epochs": 6, "evals_per_epoch": 2},
        ),
        report=(
            {"n_train": 640, "batch": 32, "width": 32, "lr": 2e-3, "epochs": 10},
            {"n_train": 384, "batch": 16, "width": 16, "lr": 1e-3, "epochs": 10},
            {"n_train": 1024, "batch": 64, "width": 48, "lr": 1e-3, "epochs": 14, "evals_per_epoch": 2},
        ),
    )
)
