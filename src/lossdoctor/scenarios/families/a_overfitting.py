"""Overfitting: a model that can memorise a small, partly mislabelled training set, trained too long.

What a person sees: the train loss keeps falling (in steps at each epoch start, where the examples
just seen an epoch ago come round again) while the validation loss reaches its minimum after a few
epochs and then climbs for the rest of the run, as the model fits the flipped labels.
"""

from __future__ import annotations

import torch

from lossdoctor.scenarios.catalog import Family, Params, register
from lossdoctor.scenarios.data import shape_images
from lossdoctor.scenarios.families.a_data import clusters, flip_labels
from lossdoctor.scenarios.families.a_models import ConvNet, mlp
from lossdoctor.scenarios.loop import train_classifier
from lossdoctor.scenarios.records import TrainLog


def mlp_adam(seed: int, params: Params) -> TrainLog:
    """A wide MLP on 4 overlapping Gaussian classes with 20% flipped labels, Adam, evaluated per epoch.

    Few hundred examples, a few hundred thousand weights: after the clean structure is learnt the only
    way down for the train loss is memorising the flipped labels, which costs validation loss.
    """
    torch.manual_seed(seed)
    n, batch, d = params["n_train"], params["batch"], 24
    x, y = clusters(n + 512, d, 4, seed, spread=1.3, label_noise=params.get("label_noise", 0.2))
    model = mlp(d, params["width"], 4, depth=2)
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
        evals_per_epoch=params.get("evals_per_epoch", 1),
    )


def cnn_sgd(seed: int, params: Params) -> TrainLog:
    """A small CNN on noisy pattern images with 30% flipped labels, SGD + momentum, no augmentation.

    Pixel noise makes every image unique, so the CNN can memorise its (mislabelled) training set;
    validation is clean-labelled pattern images from the same generator.
    """
    torch.manual_seed(seed)
    n, batch, size = params["n_train"], params["batch"], 12
    images, labels = shape_images(n + 256, size, seed)
    g = torch.Generator().manual_seed(seed + 1)
    images = images + params.get("pixel_noise", 1.2) * torch.randn(images.shape, generator=g)  # harder
    train_labels = flip_labels(labels[:n], 4, params.get("label_noise", 0.3), seed)
    model = ConvNet(size, params["width"], 4)
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
        train_y=train_labels,
        evals_per_epoch=params.get("evals_per_epoch", 1),
    )


register(
    Family(
        "overfit_mlp_adam",
        "overfitting",
        "Wide MLP, 4 overlapping classes with 20% flipped labels, a few hundred examples, Adam, many "
        "epochs: train loss keeps falling while validation loss turns up after a few epochs.",
        mlp_adam,
        tune=(
            {"n_train": 256, "batch": 32, "width": 256, "lr": 1e-3, "epochs": 60},
            {"n_train": 384, "batch": 16, "width": 192, "lr": 5e-4, "epochs": 40, "evals_per_epoch": 2},
        ),
        report=(
            {"n_train": 320, "batch": 32, "width": 320, "lr": 1e-3, "epochs": 50},
            {"n_train": 200, "batch": 8, "width": 128, "lr": 3e-4, "epochs": 30},
            {"n_train": 512, "batch": 64, "width": 256, "lr": 1e-3, "epochs": 60, "evals_per_epoch": 2},
        ),
    )
)

register(
    Family(
        "overfit_cnn_sgd",
        "overfitting",
        "Small CNN on noisy pattern images with 30% flipped labels, SGD + momentum, no augmentation: "
        "the train loss falls towards zero while validation loss climbs after its early minimum.",
        cnn_sgd,
        tune=(
            {"n_train": 256, "batch": 32, "width": 8, "lr": 0.02, "epochs": 40},
            {"n_train": 192, "batch": 16, "width": 12, "lr": 0.015, "epochs": 35, "evals_per_epoch": 2},
        ),
        report=(
            {"n_train": 320, "batch": 32, "width": 10, "lr": 0.015, "epochs": 35},
            {"n_train": 160, "batch": 16, "width": 8, "lr": 0.02, "epochs": 40},
            {"n_train": 384, "batch": 64, "width": 12, "lr": 0.03, "epochs": 45, "evals_per_epoch": 3},
        ),
    )
)
