"""`model.eval()` without `model.train()`: the loss shifts at mid-epoch evaluations, back at epoch start."""

from __future__ import annotations

import warnings

import numpy as np

from ..epochs import EpochFold, mid_epoch_evaluations
from ..findings import Finding
from ..run import Series
from ..signals import RunSignals, fmt
from . import check
from ._fix import for_framework

#: Share of epochs whose shift at the first mid-epoch evaluation has the common sign.
MIN_CONSISTENCY = 0.8
#: Share of the level difference that must happen right at the evaluation step (a step, not a ramp).
MIN_ABRUPTNESS = 0.5
#: Smallest level change (as a ratio) worth the name: switching dropout or BatchNorm statistics moves the
#: loss by tens of percent; a few percent is the drift of the re-exposure sawtooth around an evaluation.
MIN_VISIBLE = 1.1
#: Share of the shift still there in the later half of the steps after the evaluation: eval mode lasts until
#: the next epoch start, while an LR restart's kick (which an evaluation may happen to precede) fades.
MIN_PERSISTENCE = 2 / 3
#: A fall inside the epoch at least this large (as a ratio) needs no clear two-level shape (see _two_levels).
LARGE_FALL = 1.25
#: Standard errors a drop fitted to window means must reach. One-sided (only a drop counts there) and with
#: the sign also required in most epochs, 3 is a false-alarm level near 1e-3 per run.
WINDOWED_T = 3.0
#: Standard errors a shift between whole logged points must reach; a drop seen in every one of at least
#: UNANIMOUS_EPOCHS epochs needs only WINDOWED_T (its sign alone is a 1-in-16 chance, and only a drop counts).
STEP_T = 4.0
UNANIMOUS_EPOCHS = 5
#: The recorder's series: 1.0 while model.training was on at the step, 0.0 in eval mode.
TRAIN_MODE = "train_mode"


def _FIX(sig: RunSignals) -> list[str]:
    return for_framework(
        sig,
        torch=[
            "def evaluate(model, loader):",
            "    model.eval()",
            "    with torch.no_grad():",
            "        ...",
            "    model.train()  # back to training mode before the next training step",
        ],
        hf=["# the Trainer calls model.train() at every step: a training_step you override must do the same"],
        lightning=["# in a custom hook that calls self.eval(), call self.train() when done"],
    )


def _two_levels(folded: EpochFold) -> tuple[int, float, float, float, np.ndarray] | None:
    """Best split of the within-epoch profile into two flat levels.

    Returns (bin where the second level starts, level change, share of it at the split, standard
    error of the change, per-epoch changes), or None when the epochs are too short.
    """
    bins = int(min(40, folded.points_per_epoch))
    if bins < 8:
        return None
    prof = folded.profile(bins)
    if not np.isfinite(prof).all(axis=0).any():
        return None
    with warnings.catch_warnings():  # a bin no epoch reached is NaN in the shape, and numpy would say so aloud
        warnings.simplefilter("ignore", RuntimeWarning)
        shape = np.nanmedian(prof, axis=0)
    best: tuple[int, float, float] | None = None
    for j in range(3, bins - 3):  # each level spans several bins: a one-step spike is not a level
        change = float(np.mean(shape[j:]) - np.mean(shape[:j]))
        explained = j * (bins - j) * change**2  # the split that leaves the least scatter (least squares)
        if best is None or explained > best[2]:
            best = (j, change, explained)
    if best is None:
        return None
    j, change, _ = best
    # Two flat levels must explain the shape far better than a steady ramp: the re-exposure sawtooth
    # rises through every epoch, and a healthy run's fast early learning can leave a mild fall inside
    # its epochs. A fall of a quarter or more that is back up at the next start has no benign reading
    # (it is dropout switched off, or BatchNorm on running statistics), so two levels need only fit as
    # well as a ramp there: on a noisy profile the two shapes fit about equally.
    x = np.arange(bins)
    two_level = np.where(x < j, np.mean(shape[:j]), np.mean(shape[j:]))
    ramp = np.polyval(np.polyfit(x, shape, 1), x)
    large_fall = folded.sig.log_space and change <= -np.log10(LARGE_FALL)
    if np.sum((shape - two_level) ** 2) > (1.0 if large_fall else 0.7) * np.sum((shape - ramp) ** 2):
        return None
    step = float(np.mean(shape[j : j + 2]) - np.mean(shape[j - 2 : j]))
    per_epoch = np.nanmean(prof[:, j:], axis=1) - np.nanmean(prof[:, :j], axis=1)
    points_per_bin = folded.points_per_epoch / bins
    se = folded.noise * np.sqrt(1 / (points_per_bin * j) + 1 / (points_per_bin * (bins - j)))
    se /= np.sqrt(max(1, np.isfinite(per_epoch).sum()))
    return j, change, step / change if change else 0.0, float(se), per_epoch


def _from_two_levels(sig: RunSignals, folded: EpochFold) -> Finding | None:
    """Two flat levels split inside every epoch, for logs without epoch marks or mid-epoch
    evaluation steps; where a validation series is logged, whether it sits at the level changes."""
    if sig.lr_jumps:
        return None  # level changes at LR jumps are the schedule's (lr_schedule_jumps)
    found = _two_levels(folded)
    if found is None:
        return None
    j, change, abrupt, se, per_epoch = found
    per_epoch = per_epoch[np.isfinite(per_epoch)]
    consistency = float(np.mean(np.sign(per_epoch) == np.sign(change))) if len(per_epoch) else 0.0
    if consistency < MIN_CONSISTENCY or abs(change) < max(5 * se, np.log10(MIN_VISIBLE)) or abrupt < MIN_ABRUPTNESS:
        return None
    bins = int(min(40, folded.points_per_epoch))
    where = j / bins
    # a repeated fine-grained order is unshuffled data, not a mode switch; the switch's own step, larger in
    # some epochs than in others, is taken out first
    if folded.fine_correlation(own_amount_of=np.where(np.arange(bins) < j, 0.0, 1.0)) >= 0.4:
        return None
    ratio = 10**change if sig.log_space else None
    size = f"×{fmt(ratio)}" if ratio is not None else f"by {change:+.3g}"
    inferred = folded.info.source == "inferred"
    switches = [int(s + where * folded.info.length) for s in folded.info.starts[:-1]]
    evidence = [
        f"in {round(consistency * len(per_epoch))} of {len(per_epoch)} epochs the training loss changes level"
        f" {size} at once, {where:.0%} into the epoch, stays flat until the epoch ends, and is back at the"
        " next epoch start",
    ]
    confidence = 0.5 if inferred else 0.55
    at_evals = _switches_at_evaluations(sig, switches, folded.info.length)
    if at_evals is None:
        evidence.append(
            "this log has no validation series: if an evaluation runs at that point of the epoch, the model is"
            " left in eval mode after it (logging the validation loss, or model.training, would settle it)")
    elif at_evals >= MIN_CONSISTENCY:
        evidence.append(f"the validation loss is logged right where the level changes ({at_evals:.0%} of the"
                        " changes): an evaluation runs there and leaves the model in eval mode")
        confidence += 0.25
    elif at_evals < 0.5:
        return None  # evaluations are logged, but elsewhere: whatever switches the level, it is not them
    else:
        evidence.append(f"only {at_evals:.0%} of the changes come at a logged evaluation: something else at that"
                        " point of the epoch may switch the model (recording model.training would settle it)")
        confidence -= 0.1
    if inferred:
        evidence.append(f"the log marks no epochs: a period of {fmt(folded.info.length)} steps was inferred from the"
                        " loss itself (logging the epoch would settle where each one starts)")
    return Finding(
        id="eval_mode_leak",
        severity="problem",
        confidence=confidence,
        title="The training loss switches level inside every epoch (model left in eval mode?)",
        evidence=evidence,
        fix=_FIX(sig),
        steps=switches[:200],
    )


def _switches_at_evaluations(sig: RunSignals, switches: list[int], length: float) -> float | None:
    """Share of the level changes that have a logged evaluation at most a twentieth of an epoch before them
    (the change shows on the first training step after the evaluation); None without a validation series."""
    val = sig.val
    if val is None or not len(val) or not switches:
        return None
    tolerance = max(2.0, 0.05 * length)
    evals = np.sort(val.steps)
    hits = 0
    for step in switches:
        before = evals[evals <= step + tolerance]
        hits += bool(len(before)) and step - before[-1] <= tolerance
    return hits / len(switches)


def _shifts(folded: EpochFold, firsts: dict[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Per epoch: (level after − before the first mid-epoch eval, jump right at it, level of the later half
    of the steps after it − before, eval steps)."""
    sig, r = folded.sig, folded.residual
    shifts, jumps, lates, steps = [], [], [], []
    near = max(3, int(folded.points_per_epoch // 6))
    # A loss logged as a mean over a window of steps: a point belongs after the evaluation only when its
    # whole window does; the one that straddles it is left out. Such logs have few points per epoch.
    window = max(1, sig.run.facts.loss_window or 1)
    least = 3 if window == 1 else 2
    for k, eval_step in firsts.items():
        in_epoch = folded.epoch == k
        before = r[in_epoch & (sig.steps <= eval_step)]
        after = r[in_epoch & (sig.steps - (window - 1) > eval_step)]
        if len(before) < least or len(after) < least:
            continue
        shifts.append(float(np.median(after) - np.median(before)))
        jumps.append(float(np.median(after[:near]) - np.median(before[-near:])))
        lates.append(float(np.median(after[len(after) // 2 :]) - np.median(before)))
        steps.append(eval_step)
    return np.array(shifts), np.array(jumps), np.array(lates), steps


def _step_fits_better_than_ramp(folded: EpochFold, firsts: dict[int, int]) -> bool:
    """Whether a step at each epoch's first evaluation fits the pooled within-epoch residual better than a
    straight ramp through the epoch (both by least squares, two parameters each).

    The jump measured from a few points on each side of the evaluation is noisy at high batch noise; the
    pooled fit weighs every point of every epoch, and a ramp (an LR cycle per epoch, the re-exposure sawtooth)
    fits a profile that changes gradually better than a step does.
    """
    sig, clip = folded.sig, 4 * folded.noise
    mine = np.isin(folded.epoch, list(firsts))
    if mine.sum() < 8:
        return False
    r = np.clip(folded.residual[mine], -clip, clip)
    eval_of = np.array([firsts[int(k)] for k in folded.epoch[mine]])
    def sse(x: np.ndarray) -> float:
        design = np.column_stack([np.ones_like(r), x])
        coef, *_ = np.linalg.lstsq(design, r, rcond=None)
        return float(np.sum((r - design @ coef) ** 2))
    return sse((sig.steps[mine] > eval_of).astype(float)) < sse(folded.position[mine])


def _windowed_shift(folded: EpochFold, firsts: dict[int, int]) -> tuple[float, float, float, int] | None:
    """(level change in eval mode, its standard error, share of epochs agreeing, epochs measured) for a
    loss logged as means over windows of steps (Hugging Face `logging_steps`).

    Each logged mean covers known steps, so the share of them trained in eval mode (after the epoch's first
    evaluation, before the next epoch starts) is known exactly; the loss regressed on that share gives the
    shift. Windows that straddle an evaluation or an epoch start still count, weighted by their share,
    where comparing whole points would leave most epochs with nothing before the evaluation.
    """
    sig = folded.sig
    window = int(sig.run.facts.loss_window)
    starts = folded.info.starts
    covered = sig.steps[:, None] - np.arange(window)[None, :]
    epoch_of = np.searchsorted(starts, covered, side="right")
    in_eval = np.zeros(covered.shape, dtype=bool)
    for k, eval_step in firsts.items():
        in_eval |= (epoch_of == k) & (covered > eval_step)
    known = np.isin(epoch_of, list(firsts)).all(axis=1)
    if known.sum() < 6:
        return None
    share, r, epoch = in_eval.mean(axis=1)[known], folded.residual[known], epoch_of[known, 0]
    spread = float(np.sum((share - share.mean()) ** 2))
    if spread <= 0:
        return None
    shift = float(np.sum((share - share.mean()) * r) / spread)
    se = folded.noise / np.sqrt(spread)
    per_epoch = []
    for k in np.unique(epoch):
        mine = epoch == k
        if mine.sum() >= 2 and np.ptp(share[mine]) >= 0.5:
            x = share[mine] - share[mine].mean()
            per_epoch.append(float(np.sum(x * r[mine]) / np.sum(x * x)))
    if not per_epoch:
        return None
    agree = float(np.mean(np.sign(per_epoch) == np.sign(shift)))
    return shift, float(se), agree, len(per_epoch)


def _from_windowed_means(sig: RunSignals, folded: EpochFold, firsts: dict[int, int]) -> Finding | None:
    """The leak in a log of window means: only a drop counts, since at a few points per epoch a rise after
    the evaluation cannot be told from the re-exposure ramp, and a drop has no benign reading."""
    found = _windowed_shift(folded, firsts)
    if found is None:
        return None
    shift, se, agree, epochs = found
    visible = np.log10(MIN_VISIBLE) if sig.log_space else 0.0
    if shift >= 0 or epochs < 3 or agree < MIN_CONSISTENCY or -shift < max(WINDOWED_T * se, visible):
        return None
    size = f"×{fmt(10**shift)}" if sig.log_space else f"by {shift:+.3g}"
    window = sig.run.facts.loss_window
    evidence = [
        f"steps trained after the first mid-epoch evaluation, until the next epoch starts, sit {size} against"
        f" the rest ({abs(shift) / se:.1f} standard errors), in {round(agree * epochs)} of {epochs} epochs",
        f"each logged loss is a mean over {window} steps: the shift is fitted to the share of each window's steps"
        " that came after the evaluation (logging every step would show the step itself)",
        "after eval(), dropout is off and BatchNorm uses running statistics: the model trains in eval mode",
    ]
    return Finding(
        id="eval_mode_leak",
        severity="problem",
        confidence=0.7,
        title="The model stays in eval mode after mid-epoch evaluations",
        evidence=evidence,
        fix=_FIX(sig),
        steps=list(firsts.values()),
    )


@check("eval_mode_leak", "problem", "train loss shifts at mid-epoch evaluations (model left in eval mode)")
def eval_mode_leak(sig: RunSignals) -> Finding | None:
    """Fires when, in most epochs, the training loss changes level abruptly at the first evaluation
    inside the epoch, keeps the new level through the later half of the epoch, and returns at the next
    epoch start. Abrupt means: most of the change within a few steps of the evaluation, or a step at the
    evaluation fitting all epochs pooled better than a gradual change through the epoch.

    An evaluation that calls `model.eval()` and never `model.train()` leaves dropout off and
    BatchNorm on running statistics until the loop calls `model.train()` at the next epoch.
    Evaluation steps come from where the validation loss is logged. False positives: an LR schedule
    or data change at the evaluation step; a log without a validation series gives no evaluation
    steps and this check stays silent. A recorded `train_mode` series (lossdoctor.watch) settles it
    directly: the steps trained with model.training off, or none.
    """
    mode = sig.run.get(TRAIN_MODE)
    if mode is not None:
        return _from_recorded_mode(sig, mode)  # the recorder saw model.training: no need to infer it
    if sig.run.facts.framework == "huggingface":
        return None  # the HF Trainer calls model.train() at every training step: a leak cannot last there
    folded = sig.folded
    val = sig.val
    if folded is None:
        return None
    firsts = mid_epoch_evaluations(folded, val.steps) if val is not None else {}
    if folded.info.source == "inferred":
        # no epochs in the log: the two-level shape, then where evaluations sit; or, when evaluations are logged
        # inside the inferred epochs, the shift at them (a DenseNet's ×0.67 had read as two levels at 40% abrupt
        # over bins of 1.5 points, red-team 18a r04)
        found = _from_two_levels(sig, folded)
        # one evaluation a period may sit at the true epoch's end, as the inferred phase is arbitrary: only
        # evaluations more often than that put one inside every epoch
        span = max(1.0, float(np.ptp(sig.steps)))
        evaluations_per_epoch = len(val.steps) * folded.info.length / span if firsts and val is not None else 0.0
        if found is not None or len(firsts) < 3 or evaluations_per_epoch < 1.5 or (sig.run.facts.loss_window or 1) > 1:
            return found
        found = _from_evaluations(sig, folded, firsts)
        if found is not None:
            found.confidence = round(found.confidence * 0.85, 3)
            found.evidence.append(f"the log marks no epochs: a period of {fmt(folded.info.length)} steps was"
                                  " inferred from the loss itself (logging the epoch would settle where each starts)")
        return found
    if len(firsts) < 3:
        return _from_two_levels(sig, folded)
    if (sig.run.facts.loss_window or 1) > 1:
        return _from_windowed_means(sig, folded, firsts)
    return _from_evaluations(sig, folded, firsts)


def _from_evaluations(sig: RunSignals, folded: EpochFold, firsts: dict[int, int]) -> Finding | None:
    """The shift at each epoch's first mid-epoch evaluation: abrupt, lasting, and alike over the epochs."""
    shifts, jumps, lates, steps = _shifts(folded, firsts)
    if len(shifts) < 3:
        return None
    typical = float(np.median(shifts))
    if typical and float(np.median(lates)) / typical < MIN_PERSISTENCE:
        return None  # a bump that fades before the epoch ends (an LR restart's kick), not a mode that stays
    consistency = float(np.mean(np.sign(shifts) == np.sign(typical)))
    se = 1.25 * folded.noise * np.sqrt(2 / max(3.0, folded.points_per_epoch / 2)) / np.sqrt(len(shifts))
    abrupt = float(np.median(jumps) / typical) if typical else 0.0
    # the few points next to the evaluation are noisy; all points of all epochs together can still say: a step.
    # Only for a drop: the re-exposure sawtooth rises fast after the epoch starts and then flattens, which a step
    # a quarter into the epoch fits better than a straight ramp, while nothing benign lowers the loss there.
    pooled_step = typical < 0 and abrupt < MIN_ABRUPTNESS and _step_fits_better_than_ramp(folded, firsts)
    visible = np.log10(MIN_VISIBLE) if sig.log_space else 0.0
    unanimous_drop = typical < 0 and consistency == 1.0 and len(shifts) >= UNANIMOUS_EPOCHS
    needed = WINDOWED_T if unanimous_drop else STEP_T
    if consistency < MIN_CONSISTENCY or abs(typical) < max(needed * se, visible) or (
        abrupt < MIN_ABRUPTNESS and not pooled_step
    ):
        return None
    ratio = 10**typical if sig.log_space else None
    size = f"×{fmt(ratio)}" if ratio is not None else f"by {typical:+.3g}"
    direction = "drops" if typical < 0 else "rises"
    evidence = [
        f"in {round(consistency * len(shifts))} of {len(shifts)} epochs the training loss {direction} {size}"
        " right at the first mid-epoch evaluation and stays there until the epoch ends",
        (f"the change happens at once ({abrupt:.0%} of it within a few steps of the evaluation)" if not pooled_step
         else "over all epochs together, a step at the evaluation fits the loss better than a gradual change"
         " through the epoch")
        + ", and the level is back at the next epoch start, where the loop calls model.train()",
        "after eval(), dropout is off and BatchNorm uses running statistics: the model trains in eval mode"
        + (" (lower loss: dropout off, or BatchNorm on its running statistics)" if typical < 0 else ""),
    ]
    return Finding(
        id="eval_mode_leak",
        severity="problem",
        confidence=0.85 if consistency >= 0.9 else 0.75,
        title="The model stays in eval mode after mid-epoch evaluations",
        evidence=evidence,
        fix=_FIX(sig),
        steps=steps,
    )


def _from_recorded_mode(sig: RunSignals, mode: Series) -> Finding | None:
    """The recorded mode of every training step: stretches trained in eval mode, and what they cost."""
    off = mode.values < 0.5
    if not off.any():
        return None
    edges = np.flatnonzero(np.diff(np.concatenate([[0], off.astype(int), [0]])))
    stretches = [(int(mode.steps[a]), int(mode.steps[b - 1])) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    evidence = [
        f"the recorder saw model.training off on {int(off.sum())} of {len(off)} training steps, in"
        f" {len(stretches)} stretch(es): "
        + ", ".join(f"steps {a}–{b}" for a, b in stretches[:4])
        + (" …" if len(stretches) > 4 else ""),
    ]
    eval_steps = mode.steps[off]
    at = np.isin(sig.steps, eval_steps)
    if at.any() and (~at).any():
        shift = float(np.median(sig.residual[at]) - np.median(sig.residual[~at]))
        size = f"×{fmt(10**shift)}" if sig.log_space else f"by {shift:+.3g}"
        evidence.append(f"on those steps the training loss sits {size} against its trend elsewhere"
                        " (dropout off, BatchNorm on running statistics)")
    if sig.epochs is not None and len(stretches) >= 2:
        starts = sig.epochs.starts
        back = sum(1 for _, b in stretches if np.any(np.abs(starts - (b + 1)) <= 1))
        evidence.append(f"{back} of {len(stretches)} stretches end where an epoch starts (model.train() is"
                        " called there again)")
    evidence.append("if the eval mode is on purpose (frozen BatchNorm statistics), mute this check")
    return Finding(
        id="eval_mode_leak",
        severity="problem",
        confidence=0.97,
        title="The model trained in eval mode on part of the steps",
        evidence=evidence,
        fix=_FIX(sig),
        steps=[a for a, _ in stretches[:200]],
    )
