"""The whole per-step loss profile repeats epoch after epoch: the data come in the same order."""

from __future__ import annotations

from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check
from ._fix import for_framework

#: Median correlation between consecutive epochs, position by position, that marks a repeated order.
MIN_CORRELATION = 0.4


@check("unshuffled_data", "problem", "the per-step loss profile repeats every epoch (no shuffling)")
def unshuffled_data(sig: RunSignals) -> Finding | None:
    """Fires when the loss at each position of an epoch correlates with the loss at the same
    position of the next epoch, after removing the smooth within-epoch shape.

    With shuffling, which batch lands at which position is new every epoch, so the fine-grained
    residuals of two epochs are unrelated (correlation ≈ 0); without it the same batches return in
    the same order and their easy/hard pattern repeats. Removing the smooth shape first keeps the
    re-exposure sawtooth and eval-mode level shifts (which are smooth or stepwise) from counting.
    False positives: a deliberately fixed curriculum, and a dataset so small that every batch is
    the whole data (then there is nothing to shuffle).
    """
    folded = sig.folded
    if folded is None:
        return None
    corr = folded.fine_correlation()
    if corr < MIN_CORRELATION:
        return None
    info = folded.info
    source = "inferred from the autocorrelation of the loss" if info.source == "inferred" else f"from the {info.source}"
    evidence = [
        f"position by position, each epoch's loss repeats the previous epoch's (median correlation {corr:.2f}"
        f" over {len(folded.complete) - 1} pairs of consecutive epochs, after removing the smooth shape);"
        " with shuffling it would be about 0",
        f"epochs of {fmt(info.length)} steps ({source})",
        "the same batches come in the same order every epoch, so the model sees the same sequence of"
        " easy and hard batches and the loss traces the same profile",
    ]
    confidence = 0.85 if corr >= 0.6 else 0.72
    if info.source == "inferred":
        confidence *= 0.9
    return Finding(
        id="unshuffled_data",
        severity="problem",
        confidence=round(confidence, 3),
        title="The data are not shuffled: every epoch repeats the same loss profile",
        evidence=evidence,
        fix=for_framework(
            sig,
            torch=[
                "loader = DataLoader(dataset, batch_size=B, shuffle=True)  # a new order every epoch",
                "# an IterableDataset must shuffle itself, e.g. with a shuffle buffer per epoch",
            ],
            hf=["# the Trainer shuffles map-style datasets; check a custom sampler or an IterableDataset",
                "dataset = dataset.shuffle(seed=42)  # or .shuffle(buffer_size=10_000) when streaming"],
            keras=["model.fit(x, y, shuffle=True)",
                   "dataset = dataset.shuffle(buffer_size=len_dataset, reshuffle_each_iteration=True).batch(B)"],
        ),
        steps=[int(s) for s in info.starts[:200]],
    )
