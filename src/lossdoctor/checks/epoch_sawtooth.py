"""Re-exposure: the loss drops right after each epoch starts and creeps up within the epoch."""

from __future__ import annotations

import math

import numpy as np

from ..epochs import SHAPE_TESTED_MIN_EXCESS, fold, realigned_at_drop
from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check

#: Share of epochs that must end higher than they start.
MIN_CONSISTENCY = 0.7
#: Rank correlation of the mean within-epoch profile with position: a ramp, not a single step.
MIN_RAMP = 0.5
#: Share of the profile's climb that must remain without its last position: a ramp climbs all through the
#: epoch, while a short last batch lifts one point at the end and tilts every epoch's fitted line with it.
LAST_STEP_SHARE = 0.25
#: Standard errors (across epochs) the median rise must reach; with the consistency and ramp rules
#: also required, a one-sided 2.3% level is enough.
MIN_T = 2.0


def _rise_of(shape: np.ndarray) -> float:
    """The later half of a profile less its earlier half (means): how far it climbs through the epoch."""
    half = len(shape) // 2
    return float(np.mean(shape[half:]) - np.mean(shape[:half])) if half else 0.0


def _rank_corr(a: np.ndarray) -> float:
    ranks = np.argsort(np.argsort(a))
    return float(np.corrcoef(ranks, np.arange(len(a)))[0, 1]) if len(a) > 2 and np.std(ranks) else 0.0


def _falls_more_than_it_rises(shape: np.ndarray) -> bool:
    """Whether the repeated profile matches a falling sawtooth (at its best phase) better than a rising one.

    An inferred period has no phase, and a profile that falls through each period (the model adapting to
    one block of a fixed data order) fits a rising ramp too once cut in the middle of its fall.
    """
    ramp = np.arange(len(shape)) - (len(shape) - 1) / 2
    rolled = [np.roll(shape, -k) for k in range(len(shape))]
    return max(float(np.dot(r, -ramp)) for r in rolled) >= max(float(np.dot(r, ramp)) for r in rolled)


@check("epoch_sawtooth", "benign", "loss drops at each epoch start and creeps up within it (re-exposure)")
def epoch_sawtooth(sig: RunSignals) -> Finding | None:
    """Fires when, in most epochs, the loss is lowest just after the epoch starts and rises
    steadily (a ramp, not a single spike) towards the epoch's end.

    With reshuffling, a sample met early in an epoch was last seen about half an epoch ago on
    average; one met late, about one and a half. A model that memorises and forgets therefore
    does better early in each epoch. It is stronger at high LR and small Adam β2. Benign while
    validation holds; when validation worsens, `overfitting` is the finding that matters. False
    positives: an LR schedule stepping at every epoch start (then `lr_schedule_jumps`), and data
    sorted by difficulty without shuffling (then `unshuffled_data` fires as well).
    """
    folded = sig.folded
    if folded is None:
        # A weak period is enough here: the ramp, its consistency over epochs and its size are tested below.
        folded = fold(sig, min_excess=SHAPE_TESTED_MIN_EXCESS)
    if folded is not None and folded.info.source == "inferred":
        folded = realigned_at_drop(folded)
    if folded is None:
        return None
    inferred = folded.info.source == "inferred"
    starts = set(int(s) for s in folded.info.starts)
    if any(any(abs(step - s) <= folded.info.length * 0.02 for s in starts) for step, _, _ in sig.lr_jumps):
        return None
    bins = int(min(10, folded.points_per_epoch))
    prof = folded.profile(bins)
    if not inferred and folded.opens_training and len(prof) > 3:
        prof = prof[1:]  # the run's first epoch holds the initial fall and nothing seen before, as for the slopes
    if not np.isfinite(prof).any(axis=0).all():
        return None
    shape = np.nanmedian(prof, axis=0)
    if inferred and _falls_more_than_it_rises(shape):
        return None  # a profile that falls through each period is the data's own order, not re-exposure
    # One straight-line slope per epoch, over all its points: the rise from start to end of the epoch.
    slopes_arr = folded.slopes(skip_first_training_epoch=True)
    if len(slopes_arr) < 3:
        return None
    consistency = float(np.mean(slopes_arr > 0))
    rise = float(max(np.median(slopes_arr), np.mean(slopes_arr)))  # either centre: a few epochs can tilt one
    se = float(np.std(slopes_arr, ddof=1) / np.sqrt(len(slopes_arr)))
    ramp = _rank_corr(shape)
    # Significant across epochs (MIN_T standard errors of the median slope, one-sided since only a rise
    # counts, or nearly every epoch rising: a one-sided sign test at 2%) and visible: at least half the
    # step-to-step scatter, and 2% of the loss when the loss is positive (a 1% ramp shows on no plot).
    visible = max(0.5 * folded.noise, np.log10(1.02) if sig.log_space else 0.0)
    ups = int(np.sum(slopes_arr > 0))
    sign_p = sum(math.comb(len(slopes_arr), k) for k in range(ups, len(slopes_arr) + 1)) / 2 ** len(slopes_arr)
    significant = rise >= MIN_T * se or sign_p <= 0.02  # the mean slope, or the sign test over epochs
    if consistency < MIN_CONSISTENCY or not significant or rise < visible or ramp < MIN_RAMP:
        return None
    if _rise_of(shape[:-1]) < LAST_STEP_SHARE * _rise_of(shape):
        return None  # one step at the epoch's end (a short last batch), not a ramp (red-team 17b r08)
    per_epoch = slopes_arr
    ratio = 10**rise if sig.log_space else None
    size = f"×{fmt(ratio)}" if ratio is not None else f"by {fmt(rise)}"
    evidence = [
        f"in {round(consistency * len(per_epoch))} of {len(per_epoch)} epochs the loss creeps up from the epoch's"
        f" start to its end (a line fitted through each epoch; median rise {size}); the shape they share climbs"
        f" with the position in the epoch (rank correlation {ramp:.2f})",
        "mean shape by tenths of the epoch: " + " ".join(f"{x:+.3f}" for x in shape)
        + (" (log10 residual)" if sig.log_space else ""),
        "each sample met early in an epoch was seen about half an epoch ago, one met late about one and a half:"
        " the model remembers recent samples better (re-exposure)",
    ]
    if inferred:
        evidence.append(f"the log marks no epochs: a period of {fmt(folded.info.length)} steps was inferred from how"
                        " the loss repeats; log the epoch (or steps per epoch) to settle it")
    val = sig.val
    if val is not None and len(val) >= 3:
        best, last = float(np.min(val.values)), float(val.values[-1])
        if last <= best * 1.05:
            evidence.append(f"validation is not hurt: best {fmt(best)}, last {fmt(last)}")
        else:
            evidence.append(f"validation rose from its best {fmt(best)} to {fmt(last)}: see overfitting")
    return Finding(
        id="epoch_sawtooth",
        severity="benign",
        confidence=0.6 if inferred else 0.8,
        title="Epoch sawtooth: the loss drops at each epoch start and creeps up (re-exposure, normal)",
        evidence=evidence,
        fix=[
            "# nothing to fix while validation holds; to judge progress compare epoch means, not steps.",
            "# it weakens with a smaller LR, a larger Adam beta2, more data or augmentation:",
            "torch.optim.Adam(model.parameters(), lr=lr / 2, betas=(0.9, 0.999))",
        ],
        steps=[int(s) for s in folded.info.starts[:200]],
    )
