"""The whole per-step loss profile repeats epoch after epoch: the data come in the same order."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from ..epochs import EpochFold, evaluation_step_shape
from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check
from ._fix import for_framework

#: Median correlation between consecutive epochs, position by position, that marks a repeated order.
MIN_CORRELATION = 0.4
#: The same for the coarse profile (bin means of the epoch) when the fine one does not repeat: data sorted by
#: class make a few long blocks, whose levels repeat every epoch while inside a block the batches are alike.
#: Healthy and sawtooth runs reach 0.5 at most on the catalogue's logs; the bar is set well above.
MIN_COARSE_CORRELATION = 0.6
#: Bins of the coarse profile.
COARSE_BINS = 12
#: Logged points an epoch must span when its length was inferred from the loss: a period of a few steps is as
#: likely the optimizer ringing (momentum overshooting back and forth) as an epoch, and a batch order worth
#: the name has more positions than a ringing has phases.
MIN_INFERRED_POINTS = 8
#: Standard errors (Fisher's z of the median correlation, over the epoch pairs and positions it rests on) the
#: repeat must reach: a correlation of 0.4 between two 6-point epochs is what chance gives every other run.
MIN_REPEAT_Z = 2.0
#: Rank correlation with position above which the profile is a rising ramp (the re-exposure sawtooth).
RAMP = 0.5


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
    if folded.info.source == "inferred" and folded.points_per_epoch < MIN_INFERRED_POINTS:
        return None
    corr = folded.fine_correlation()
    val = sig.val
    mode_switch = evaluation_step_shape(folded, val.steps) if val is not None else None
    if mode_switch is not None:
        # evaluations inside every epoch may switch the model's mode, stepping the loss by a different amount in
        # each epoch; that step, taken out per epoch, is no repeated order (red-team 15b r08: 0.66 with it)
        corr = min(corr, folded.fine_correlation(own_amount_of=mode_switch))
    if corr < MIN_CORRELATION:
        return _from_coarse_blocks(sig, folded)
    if _repeat_z(folded, corr) < MIN_REPEAT_Z:
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
        fix=_fix(sig),
        steps=[int(s) for s in info.starts[:200]],
    )


def _repeat_z(folded: EpochFold, corr: float) -> float:
    """The median pair correlation in standard errors: Fisher's z times the square root of the pairs of epochs
    in the later half of the run (what `fine_correlation` compares) times their positions less three."""
    pairs = len(folded.complete) - 1
    pairs -= pairs // 2
    positions = int(min(round(folded.points_per_epoch), 400))
    return float(np.arctanh(min(corr, 0.999)) * np.sqrt(max(pairs, 0) * max(1, positions - 3)))


def _coarse_repeat(profiles: np.ndarray) -> float:
    """Median correlation of consecutive epochs' coarse profiles (each epoch's own mean removed)."""
    profiles = profiles[np.isfinite(profiles).all(axis=1)]
    profiles = profiles - profiles.mean(axis=1, keepdims=True)
    pairs = [float(np.corrcoef(a, b)[0, 1]) for a, b in pairwise(profiles)
             if a.std() > 0 and b.std() > 0]
    return float(np.median(pairs)) if len(pairs) >= 4 else 0.0


def _from_coarse_blocks(sig: RunSignals, folded: EpochFold) -> Finding | None:
    """Blocks of the epoch that sit higher or lower in the same places every epoch, with no logged evaluation
    or LR change there: data sorted by class (or source) and never shuffled.

    Not a rising ramp (re-exposure), not one point at the epoch's end (a short last batch: the repeat must
    hold without the last bin), and not lower later in the epoch or at logged evaluations (a model left in eval
    mode lowers the loss after the evaluation, until the next epoch starts).
    """
    from .eval_mode_leak import _switches_at_evaluations, _two_levels  # the leak check's own split and test

    if folded.info.source == "inferred" or sig.lr_jumps:
        return None
    bins = int(min(COARSE_BINS, folded.points_per_epoch))
    if bins < 6:
        return None
    profiles = folded.profile(bins)
    repeat = _coarse_repeat(profiles)
    if repeat < MIN_COARSE_CORRELATION or _coarse_repeat(profiles[:, :-1]) < MIN_COARSE_CORRELATION:
        return None
    shape = np.nanmedian(profiles, axis=0)
    ramp = float(np.corrcoef(np.argsort(np.argsort(shape)), np.arange(bins))[0, 1])
    split = _two_levels(folded)
    later_lower = float(np.mean(shape[bins // 2 :])) < float(np.mean(shape[: bins // 2]))
    # A rising profile is the re-exposure sawtooth only when it climbs to the epoch's end: sorted blocks whose
    # hardest sits past the middle and whose last block is easier again rank-correlate with position by chance
    # (red-team 19a r04: five sources, the hardest fourth, 0.54).
    climbs_to_the_end = ramp >= RAMP and int(np.argmax(shape)) >= bins - max(2, bins // 4)
    if climbs_to_the_end or later_lower or (split is not None and split[1] < 0):
        return None
    if split is not None:
        where = split[0] / int(min(40, folded.points_per_epoch))
        switches = [int(s + where * folded.info.length) for s in folded.info.starts[:-1]]
        at_evals = _switches_at_evaluations(sig, switches, folded.info.length)
        if at_evals is not None and at_evals >= 0.5:
            return None  # the level changes where evaluations run: the mode switch's (eval_mode_leak)
    high = int(np.argmax(shape))
    size = f"×{fmt(10 ** float(np.ptp(shape)))}" if sig.log_space else f"by {fmt(float(np.ptp(shape)))}"
    evidence = [
        f"the loss profile of the epoch repeats block by block (median correlation {repeat:.2f} between consecutive"
        f" epochs' {bins}-part profiles): the same parts of every epoch are harder, by {size} between the"
        f" lowest and highest part (highest at {high / bins:.0%}–{(high + 1) / bins:.0%} of the epoch)",
        "no LR change and no drop inside the epoch that a mode switch would make: the data come in the same"
        " order every epoch, sorted in blocks (by class or source) — the batches inside a block are alike, so"
        " only the blocks repeat",
        f"epochs of {fmt(folded.info.length)} steps (from the {folded.info.source})",
    ]
    return Finding(
        id="unshuffled_data",
        severity="problem",
        confidence=0.65,
        title="The data are not shuffled: every epoch repeats the same blocks of easy and hard data",
        evidence=evidence,
        fix=_fix(sig),
        steps=[int(s) for s in folded.info.starts[:200]],
    )


def _fix(sig: RunSignals) -> list[str]:
    return for_framework(
        sig,
        torch=[
            "loader = DataLoader(dataset, batch_size=B, shuffle=True)  # a new order every epoch",
            "# an IterableDataset must shuffle itself, e.g. with a shuffle buffer per epoch",
        ],
        hf=["# the Trainer shuffles map-style datasets; check a custom sampler or an IterableDataset",
            "dataset = dataset.shuffle(seed=42)  # or .shuffle(buffer_size=10_000) when streaming"],
        keras=["model.fit(x, y, shuffle=True)",
               "dataset = dataset.shuffle(buffer_size=len_dataset, reshuffle_each_iteration=True).batch(B)"],
    )
