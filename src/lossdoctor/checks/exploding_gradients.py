"""Sporadic spikes with gradient-norm spikes: gradients that occasionally blow up."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..findings import Finding
from ..prescribe import HF_DEFAULT_MAX_GRAD_NORM, norms_before_runaway
from ..signals import RunSignals, fmt, rolling_median
from . import check
from ._fix import for_framework
from ._gradient_burst import Burst, gradient_burst
from ._spikes import (
    cliff_events,
    damage_after,
    grad_blowup_share,
    grad_led_events,
    grad_z,
    isolated_spikes,
    per_epoch_counts,
    phase_concentration,
    steady_span,
)
from .lr_too_high import adam_lr_far_too_high
from .numerical_instability import climb_before

#: Share of loss spikes (or jumps) that must come with a gradient-norm spike when the log has grad norms.
MIN_GRAD_SHARE = 0.5
#: Without a gradient norm, the loss jumps must at least triple the loss (median over jumps): a
#: blow-up, where level shifts of a few tens of percent have other causes (evaluation, schedule).
MIN_BLIND_RATIO = 3.0
#: A loss jump rises this many step-to-step noise levels above the median of the points before it...
JUMP = 4.0
#: ...and the median of the next points stays this many noise levels above that level: an oversized
#: update damages the weights, so the batches after it are worse too, while a bad batch raises only
#: its own loss.
AFTERMATH = 1.0
#: Points before a jump that give its level, points after it that must stay up, and points within
#: which the loss must come back to that level (otherwise it is a lasting shift, not a spike).
BEFORE, AFTER, RECOVERY = 6, 5, 40
#: Points before a jump whose median its size is also measured against (see `exploding_gradients`).
SETTLED = 30
#: Standard errors by which the points after the jumps must sit above that settled level (one-sided).
SETTLED_T = 2.0
#: Points after a jump's start within which a blow-up reaches its peak (it builds over 3–6 steps).
BUILD = 4
#: Back to the earlier level means a three-point mean within this many noise levels of it.
RECOVERED = 1.5
#: The aftermath must keep, on the median jump, this share of the jump (in log units): the weights
#: an oversized update threw off keep the next batches a good part of the way up, while a bad batch
#: that momentum carries over leaves only a faint echo of its spike.
MIN_AFTERMATH_SHARE = 0.25
#: From the loss alone, when its scatter has memory (`RunSignals.has_memory`), a blow-up is worth the name from
#: this size: weights that oversized updates knock off and that relax back over several steps give that memory,
#: batch sampling noise does not, so the guards against white noise (a jump from a run of low draws, ×3) can ease.
MIN_BLIND_RATIO_MEMORY = 2.0


#: A runaway to NaN/inf starts where the gradient norm jumps this many times its median over the points before.
RUNAWAY_JUMP = 10.0
#: ...and never comes back below this many times that median before the loss turns NaN/inf.
RUNAWAY_HOLD = 3.0
#: Gradient-norm points whose median is the level before the jump.
RUNAWAY_LEVEL = 50
#: Sudden: the runaway lasts at most this share of the steady training before it.
RUNAWAY_SHARE = 0.25


@dataclass
class Runaway:
    onset: int  # step where the gradient norm jumped
    ratio: float  # the jump, as a multiple of the gradient norm's level before
    level: float  # the gradient norm's level before
    peak: float  # the largest finite gradient norm before the loss turned NaN/inf
    first_bad: int  # step of the first NaN/inf loss
    loss_before: float  # the loss's median over the points before the jump


def gradient_runaway(sig: RunSignals) -> Runaway | None:
    """A NaN/inf reached within a few steps of a gradient-norm jump from a steady loss.

    What precedes a NaN tells its cause: a slow climb over many steps is a divergence (the LR), nothing at all
    from a normal level is a numerical fault, and a sudden jump of the gradient norm that the loss follows up
    within a few steps is a gradient explosion (an RNN without clipping). The loss must not have climbed before
    the jump, and the run before it must be long next to the runaway.
    """
    grad = sig.grad_norm
    if grad is None or not len(sig.nonfinite_steps):
        return None
    first_bad = int(sig.nonfinite_steps[0])
    keep = (grad.steps < first_bad) & np.isfinite(grad.values) & (grad.values > 0)
    steps, values = grad.steps[keep], grad.values[keep]
    if len(values) < 20:
        return None
    for i in range(10, len(values)):
        level = float(np.median(values[max(0, i - RUNAWAY_LEVEL) : i]))
        if values[i] < RUNAWAY_JUMP * level:
            continue
        onset = int(steps[i])
        if np.min(values[i:]) < RUNAWAY_HOLD * level:
            continue  # it came back down: a blow-up the run survived, not this runaway
        if first_bad - onset > RUNAWAY_SHARE * (onset - int(sig.steps[0])):
            return None  # not sudden next to the training before it
        climb = climb_before(sig, onset)
        if climb is None or climb >= 3:
            return None  # the loss was already climbing: a divergence, not a blow-up from a normal level
        before = sig.values[(sig.steps < onset) & np.isfinite(sig.values)][-RUNAWAY_LEVEL:]
        return Runaway(onset, float(values[i] / level), level, float(np.max(values[i:])), first_bad,
                       float(np.median(before)))
    return None


def _runaway_finding(sig: RunSignals, runaway: Runaway) -> Finding:
    max_norm = fmt(float(np.percentile(sig.grad_norm.values[sig.grad_norm.steps < runaway.onset], 90)))  # type: ignore[union-attr]
    return Finding(
        id="exploding_gradients",
        severity="problem",
        confidence=0.8,
        title="Exploding gradients: one blow-up of the gradient ran the loss to NaN/inf",
        evidence=[
            f"at step {runaway.onset} the gradient norm jumped to ×{fmt(runaway.ratio)} its level before"
            f" ({fmt(runaway.level)}) while the loss still sat at its usual {fmt(runaway.loss_before)}, and it never"
            f" came back: it reached {fmt(runaway.peak)}, and the loss was NaN/inf at step {runaway.first_bad},"
            f" {runaway.first_bad - runaway.onset} steps later",
            "a sudden jump of the gradient from a steady loss, not a slow climb of the loss over many steps: one"
            " oversized update threw the weights where the gradients feed on themselves (clipping bounds it)",
        ],
        fix=for_framework(
            sig,
            cause="exploding_gradients",
            torch=[
                f"torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm={max_norm})  # after backward()",
                "# for RNNs: prefer GRU/LSTM over a plain tanh RNN, add LayerNorm, shorten truncated BPTT",
            ],
            hf=[f"TrainingArguments(..., max_grad_norm={max_norm})"],
            lightning=[f"Trainer(..., gradient_clip_val={max_norm})"],
            keras=[f"keras.optimizers.Adam(learning_rate=lr, clipnorm={max_norm})"],
        ),
        steps=[runaway.onset, runaway.first_bad],
    )


def _near_lr_jump(sig: RunSignals, step: int) -> bool:
    """A blow-up within a few steps of an LR jump (a warm restart) is the schedule's doing."""
    return any(abs(at - step) <= 3 for at, _, _ in sig.lr_jumps)


#: Times the LR at a blow-up may exceed its lower quartile over the stable stretch before it and still leave the
#: blow-up to the gradients: an LR that climbed further (a warmup to too high a peak) brought the run to its cliff.
MAX_LR_RISE_INTO_BURST = 3.0


def _lr_ramped_into(sig: RunSignals, step: int) -> bool:
    """Whether the logged LR rose many-fold during the 'stable' stretch before a blow-up (a warmup ramp)."""
    lr = sig.lr
    if lr is None or not len(lr):
        return False
    before = lr.values[(lr.steps <= step) & np.isfinite(lr.values)]
    if len(before) < 4:
        return False
    # against the lower quartile: a linear warmup from 0 ends 4× above it, a warmup long finished ends level with it
    return bool(before[-1] > MAX_LR_RISE_INTO_BURST * float(np.percentile(before, 25)))


#: Times above the level before the first spike that the loss may still sit after the last and have "returned".
MAX_LEVEL_AFTER_SPIKES = 2.0


def _returns_after(sig: RunSignals, idx: np.ndarray) -> bool:
    """Whether the loss, after the last spike, comes back near the level it had before the first (median of
    the tenth of the run on each side); a positive loss only (others: assumed to return)."""
    if not sig.log_space:
        return True
    width = max(5, sig.n // 10)
    before = sig.y[max(0, int(idx[0]) - width) : int(idx[0])]
    after = sig.y[int(idx[-1]) + 3 :]
    if len(before) < 3 or len(after) < 3:
        return True
    return bool(np.median(after) - np.median(before) < np.log10(MAX_LEVEL_AFTER_SPIKES))


def _burst_finding(sig: RunSignals, burst: Burst) -> Finding:
    stable = sig.grad_norm.values[sig.grad_norm.steps < burst.step]  # type: ignore[union-attr]
    max_norm = fmt(float(np.percentile(stable[np.isfinite(stable)], 90)))
    after = ("" if burst.loss_after is None else
             f"; once it was over the loss sat at {fmt(burst.loss_after)}, ×{fmt(burst.loss_after / burst.loss_before)}"
             " where it was before")
    return Finding(
        id="exploding_gradients",
        severity="problem",
        confidence=0.8,
        title="Exploding gradients: a burst of blow-ups after stable training threw the loss off",
        evidence=[
            f"at step {burst.step} the gradient norm blew up to ×{fmt(burst.ratio)} its level before"
            f" ({fmt(burst.level)}), after {burst.step - int(sig.steps[0])} steps of stable training"
            + (" in which it never came near that" if burst.earlier_ratio < burst.ratio / 2 else
               f" (one earlier episode reached ×{fmt(burst.earlier_ratio)} at step {burst.earlier_step})"),
            f"the loss jumped from {fmt(burst.loss_before)} to {fmt(burst.loss_peak)} right after it{after}",
            "a sudden blow-up from a steady run, not a loss that never settles: the update crossed a cliff of the"
            " loss surface (clipping bounds such a step; a learning rate too high would show from the start)",
        ],
        fix=for_framework(
            sig,
            cause="exploding_gradients",
            torch=[
                f"torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm={max_norm})  # after backward()",
                "# for RNNs: prefer GRU/LSTM over a plain tanh RNN, add LayerNorm, shorten truncated BPTT",
            ],
            hf=[f"TrainingArguments(..., max_grad_norm={max_norm})"],
            lightning=[f"Trainer(..., gradient_clip_val={max_norm})"],
            keras=[f"keras.optimizers.Adam(learning_rate=lr, clipnorm={max_norm})"],
        ),
        steps=[burst.step],
    )


#: Under a known clip, no update is larger than clip / (median gradient norm) times a typical one; below this
#: the spikes of the (pre-clip) norm cannot have thrown the weights off.
MIN_CLIP_HEADROOM = 3.0
#: ...unless the loss jumps anyway: then the clip was evidently off (`max_grad_norm=0` or huge).
CLIPPED_MIN_SPIKE = 1.25


def _clipped_near_typical(sig: RunSignals) -> bool:
    """Whether the run clips its gradient close to its typical norm: the Hugging Face Trainer clips at
    max_grad_norm (1.0 unless changed) and logs the norm before clipping, so with a median norm of 0.6 no step
    moved the weights more than 1.7 times a typical one, whatever the logged spikes say."""
    grad = sig.grad_norm
    if (sig.run.facts.framework or "") != "huggingface" or grad is None or not len(grad):
        return False
    typical = float(np.median(grad.values[np.isfinite(grad.values)]))
    return typical > 0 and HF_DEFAULT_MAX_GRAD_NORM / typical < MIN_CLIP_HEADROOM


def _off_epoch(sig: RunSignals, period: int) -> bool:
    """Whether a period of gradient-led spikes is not the epoch: an RNN near its stability edge
    explodes, resets and regrows in a cycle of its own, which has nothing to do with the data order."""
    epochs = sig.epochs
    if epochs is None:
        return False
    ratio = period / epochs.length if period >= epochs.length else epochs.length / period
    return abs(ratio - round(ratio)) > 0.1


def _lasting_damage(sig: RunSignals, idx: np.ndarray, sizes: np.ndarray) -> bool:
    """Two blow-ups are enough when the loss sits higher after them than before for a good while: the
    weights were thrown somewhere worse and stayed there."""
    if not sig.log_space:
        return False
    span = max(10, sig.n // 20)
    before = sig.y[max(0, int(idx[0]) - span): int(idx[0]) - 1]
    after = sig.y[int(idx[-1]) + 1: int(idx[-1]) + 1 + 2 * span]
    if len(before) < 5 or len(after) < 10:
        return False
    return float(np.median(after) - np.median(before)) >= max(np.log10(1.1), 3 * sig.step_noise / np.sqrt(len(after)))


@dataclass
class Jumps:
    idx: np.ndarray  # loss indices where the loss jumps far above the level just before
    damaging: np.ndarray  # per jump: it stays up for a few points, then recovers
    rise: np.ndarray  # per jump: its height over the level before (log10 in log space)
    aftermath: np.ndarray  # per jump: how far the median of the next points stays above that level
    above_settled: np.ndarray  # per jump: how far they stay above the median of the last SETTLED points


def loss_jumps(sig: RunSignals) -> Jumps:
    """Sudden rises of the loss, and which of them look like an oversized update in the loss alone.

    A jump rises JUMP step-noise levels over the median of the BEFORE points. It is *damaging* when
    the median of the next AFTER points is still AFTERMATH noise levels up (the weights themselves
    were thrown off) and the loss gets back to its earlier level within RECOVERY points (not a lasting
    shift). Scales are the run's own step-to-step noise.
    """
    y, n, noise = sig.y, sig.n, sig.step_noise
    none = Jumps(np.array([], dtype=int), np.array([], dtype=bool), np.array([]), np.array([]), np.array([]))
    if n < BEFORE + AFTER + 10 or noise <= 0:
        return none
    i = np.arange(BEFORE, n - AFTER)
    # Candidates first, cheaply: the median of the points before a jump is never below their minimum, so
    # a rise over the minimum is necessary; medians are then taken only there (1M points in milliseconds).
    lowest = y[: len(i)].copy()
    for shift in range(1, BEFORE):
        np.minimum(lowest, y[shift : len(i) + shift], out=lowest)
    maybe = i[y[i] - lowest >= JUMP * noise]
    levels = np.median(y[maybe[:, None] - BEFORE + np.arange(BEFORE)], axis=1) if len(maybe) else np.array([])
    rising = y[maybe] - levels >= JUMP * noise
    candidates, bases = maybe[rising], levels[rising]
    afters = np.median(y[candidates[:, None] + 1 + np.arange(AFTER)], axis=1) if len(candidates) else np.array([])
    found: list[int] = []
    damaging: list[bool] = []
    rises: list[float] = []
    aftermaths: list[float] = []
    above_settled: list[float] = []
    for at, base, after in zip(candidates.tolist(), bases.tolist(), afters.tolist(), strict=True):
        if found and at <= found[-1] + AFTER:
            continue
        later = y[at + AFTER : at + AFTER + RECOVERY]
        recovers = len(later) < 3 or np.min(np.convolve(later, np.ones(3) / 3, "valid")) <= base + RECOVERED * noise
        found.append(at)
        damaging.append(bool(after - base >= AFTERMATH * noise and recovers))
        rises.append(float(y[at] - base))
        aftermaths.append(float(after - base))
        above_settled.append(float(after - np.median(y[max(0, at - SETTLED) : at])))
    return Jumps(np.array(found, dtype=int), np.array(damaging, dtype=bool), np.array(rises), np.array(aftermaths),
                 np.array(above_settled))


@check("exploding_gradients", "problem", "sporadic loss spikes with gradient-norm spikes")
def exploding_gradients(sig: RunSignals) -> Finding | None:
    """Fires on at least three non-periodic loss spikes led by gradient-norm spikes when the log has a
    gradient norm; from the loss alone, on sudden jumps whose damage lasts several steps and then
    recovers (lower confidence, and it says which series would settle it).

    Typical of RNNs without clipping: a step lands where the loss surface is a cliff. Unlike
    outlier batches the spikes do not recur once per epoch and outlast their own batch; unlike a
    too-high LR the loss returns to its course between them. False positives: heavy-tailed but
    harmless batch noise (then the gradient norm does not spike), and, from the loss alone, bad
    samples that a momentum optimizer carries over a few steps in a log without epoch marks.
    """
    if sig.run.facts.step_unit == "epoch":
        return None
    runaway = gradient_runaway(sig)
    if runaway is not None:
        return _runaway_finding(sig, runaway)
    events = grad_led_events(sig)
    cliffs: np.ndarray | None = None  # blow-ups of the gradient on batches whose loss was not high
    # The HF Trainer logs the norm before clipping and clips at max_grad_norm (1.0 unless changed): there a
    # blow-up of the norm alone moved the weights no further than any other step, so it is no evidence.
    # Blow-ups of the norm are looked at even when three gradient-led spikes were found: when there are more of
    # them, they are the fuller evidence (three spikes can share a place in the epoch by chance; seven cannot).
    if (sig.run.facts.framework or "") != "huggingface":
        found, sizes, on_ordinary = cliff_events(sig)
        enough = len(found) >= 3 or (len(found) == 2 and _lasting_damage(sig, found, sizes))
        if enough and len(found) > len(events):
            events, cliffs = found, sizes
    with_grad = len(events) >= 3 or cliffs is not None
    if not with_grad and not _clipped_near_typical(sig):  # under such a clip no burst moves the weights further
        burst = gradient_burst(sig)
        if burst is not None and not _near_lr_jump(sig, burst.step) and not _lr_ramped_into(sig, burst.step):
            return _burst_finding(sig, burst)
    if with_grad and sig.log_space and _clipped_near_typical(sig) \
            and np.median(10 ** sig.residual[events]) < CLIPPED_MIN_SPIKE:
        return None  # small bumps where the clip kept every update near a typical one: no blow-up
    if with_grad:
        idx = events
        # Most of the run's loss spikes must be such events: a few gradient-led ones among many that are
        # not are the bad samples' own large gradients (outlier_batches), not updates that blow up.
        others = [i for i in isolated_spikes(sig).idx if np.min(np.abs(events - i)) > 2]
        if len(events) < MIN_GRAD_SHARE * (len(events) + len(others)):
            return None
    else:
        jumps = loss_jumps(sig)
        idx = jumps.idx[jumps.damaging]
        if len(idx) < 3:
            return None
        # As with the gradient norm: most jumps must do lasting damage. Among many that vanish at the next step, a
        # few with an echo are bad samples whose large gradients nudged the weights (red-team 21a r03: 5 mislabelled
        # images under Adam, 20 of 58 jumps with an echo).
        if len(idx) < MIN_GRAD_SHARE * len(jumps.idx):
            return None
        if np.median(jumps.aftermath[jumps.damaging] / jumps.rise[jumps.damaging]) < MIN_AFTERMATH_SHARE:
            return None  # a faint echo of a huge spike: a bad batch carried over by momentum (outlier_batches)
        # With a tiny, skewed batch the few points before a jump can all be low draws, and ordinary points after
        # it then look "still up": over all the jumps, the points after them must sit above the level of the
        # last SETTLED points beyond what noise gives (a median of AFTER points, a median over the jumps). White
        # noise has no memory: where the loss's scatter has it, the jumps are no such draws.
        # The same size as against the points just before (AFTERMATH noise levels) is asked here too: many jumps in
        # a long run shrink the standard error until a faint echo of very heavy-tailed batches passes.
        settled_se = 1.25 * 1.25 * sig.step_noise / np.sqrt(AFTER * len(idx))
        above = float(np.median(jumps.above_settled[jumps.damaging]))
        if not sig.has_memory and above < max(SETTLED_T * settled_se, AFTERMATH * sig.step_noise):
            return None
    # Spikes that start once a rising LR has climbed many-fold, after which the loss never returns to its course,
    # are the LR's doing (a warmup to too high a peak): lr_too_high tells that story.
    if len(idx) and _lr_ramped_into(sig, int(sig.steps[idx[0]])) and not _returns_after(sig, idx):
        return None
    # Spikes at an LR jump (a warm restart) are the schedule's doing (lr_schedule_jumps).
    lr_jumps = np.array([step for step, _, _ in sig.lr_jumps], dtype=np.int64)
    if len(lr_jumps):
        near = np.array([np.min(np.abs(lr_jumps - sig.steps[i])) for i in idx])
        idx = idx[near > 3 * max(1.0, float(np.median(np.diff(sig.steps))))]
        if len(idx) < 3:
            return None
    # Damaging jumps in a loss whose scatter has memory: the weights were knocked off and relaxed back (see below).
    memory = not with_grad and sig.has_memory
    share = None if with_grad else grad_blowup_share(sig, idx, AFTER)
    if share is not None and share[0] < MIN_GRAD_SHARE:
        return None  # the gradient norm was logged and stayed calm: not an oversized update
    if with_grad:
        ratio = 10 ** sig.residual[idx] if sig.log_space else sig.z[idx]
    else:
        # The level a blow-up is sized against: the points just before, but never below the median of the
        # last SETTLED points, since a heavy-tailed tiny-batch loss has runs of low batches to jump from.
        before = np.array([max(np.median(sig.y[i - BEFORE : i]), np.median(sig.y[max(0, i - SETTLED) : i]))
                           for i in idx])
        # A blow-up may build over a few steps: its size is the peak within BUILD points of its start, medians
        # of three so that the noise on a level that merely shifted up does not make a peak of its own.
        peak = np.array([max(float(sig.y[i]), float(np.max(rolling_median(sig.y[i : i + BUILD + 1], 3))))
                         for i in idx])
        ratio = 10 ** (peak - before) if sig.log_space else (peak - before) / sig.step_noise
        if sig.log_space and np.median(ratio) < (MIN_BLIND_RATIO_MEMORY if memory else MIN_BLIND_RATIO):
            return None  # with nothing but the loss, only a blow-up is worth the name
    periodic = sig.infer_period(idx)
    own_cycle = with_grad and len(idx) >= 5 and periodic is not None and _off_epoch(sig, periodic[0])
    if periodic is not None and periodic[1] >= 0.7 and not own_cycle:
        return None  # a fixed period: the epoch (partial_last_batch, unshuffled data)
    found = per_epoch_counts(sig, idx)
    if found is not None:
        counts, pos = found
        counts = steady_span(counts)
        mean = float(counts.mean())
        # Bad samples come back once per epoch, but they raise their own batch's loss: blow-ups of the gradient
        # on batches whose loss was not high (cliffs) are no such samples, however evenly they fall; nor are
        # damaging jumps in a loss with memory (about one per epoch by chance when the blow-ups are that frequent).
        regular = (cliffs is None and not memory and mean > 0 and counts.var() / mean <= 0.5
                   and np.mean(counts > 0) >= 0.7)
        if regular or phase_concentration(pos) > 0.8:
            return None  # once per epoch: outlier_batches / partial_last_batch
    against = "the trend" if with_grad else "the level before them"
    size = (
        f"×{fmt(float(np.median(ratio)))} {against} (median; largest ×{fmt(float(np.max(ratio)))})"
        if sig.log_space
        else f"{fmt(float(np.median(ratio)))} noise levels above {against} (median)"
    )
    evidence = [f"{len(idx)} sporadic loss spikes, {size}, at irregular steps, not tied to the epoch"
                if cliffs is None else
                f"on the step after each blow-up the loss sits {size}, at irregular steps, not tied to the epoch"]
    if cliffs is not None:
        blown = (f"{len(cliffs)} times the gradient norm blew up to ×{fmt(float(np.median(cliffs)))} its local level"
                 f" (median; largest ×{fmt(float(np.max(cliffs)))})")
        if on_ordinary.all():
            evidence.append(f"{blown} on a batch whose own loss was not high: the loss surface is a cliff there, and"
                            " the oversized update lands on the steps after it")
        else:
            worse = 10 ** float(np.median([damage_after(sig, int(i) - 1) for i in idx]))
            evidence.append(f"{blown}, and the batches after each ran ×{fmt(worse)} worse than those before (median):"
                            " the oversized update threw the weights off, where a bad sample raises only its own loss")
        confidence = 0.8
        if sig.log_space and float(np.median(ratio)) < CLIPPED_MIN_SPIKE and adam_lr_far_too_high(sig) is not None:
            # Adam at a learning rate far above its range, stuck: the blow-ups left the loss where it was (Adam
            # bounds its step), so they are a symptom of that LR, not the cause of the stall
            confidence = 0.65
            evidence.append("the loss barely moves after them, and the run is Adam at a learning rate far above"
                            " its usual range that stopped improving: the blow-ups follow from that LR")
    elif with_grad:
        _, gz = grad_z(sig)  # type: ignore[misc]
        evidence.append(
            f"each follows a gradient-norm spike ({fmt(float(np.median(gz[gz > 3.5])))} robust stds above its"
            " trend), with the gradient already high the step before: an oversized update, not one bad batch"
        )
        confidence = 0.85
    else:
        evidence.append(
            "after each jump the loss stays up for several steps before it recovers: the update itself"
            " damaged the weights (a bad batch raises only its own loss)"
        )
        if memory:
            evidence.append(
                f"the loss's scatter carries over from step to step (lag-1 autocorrelation {sig.lag1_autocorr:.2f}"
                " of its residual, where independent batches give none): weights knocked off and relaxing back"
            )
        if share is not None:
            evidence.append(
                f"in {share[0]:.0%} of them the gradient norm blows up while the loss rises (to ×{fmt(share[1])}"
                " its level before the jump, median)"
            )
            confidence = 0.75
        else:
            evidence.append(
                "no gradient-norm series in this log: a gradient-norm spike on each of these steps would settle"
                " it (log the total norm that clip_grad_norm_ returns)"
            )
            confidence = 0.6 if len(idx) < 5 else 0.65
    clip = None
    grad = sig.grad_norm
    if grad is not None and len(grad) >= 20:
        norms = grad.values[np.isfinite(grad.values) & (grad.values > 0)]
        steady = norms_before_runaway(norms)  # after a fatal blow-up every norm is huge
        when = "before the norm ran away for good " if len(steady) < len(norms) else ""
        clip = float(np.percentile(steady, 90)) if len(steady) else None
        if clip is not None:
            evidence.append(
                f"90% of steps {when}have a gradient norm below {fmt(clip)}: a clipping threshold that leaves them"
                " alone"
            )
    max_norm = fmt(clip) if clip else "1.0"
    return Finding(
        id="exploding_gradients",
        severity="problem",
        confidence=confidence,
        title="Exploding gradients: sporadic spikes from occasional huge updates",
        evidence=evidence,
        fix=for_framework(
            sig,
            cause="exploding_gradients",
            torch=[
                f"torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm={max_norm})  # after backward()",
                "# for RNNs: prefer GRU/LSTM over a plain tanh RNN, add LayerNorm, shorten truncated BPTT",
            ],
            hf=[f"TrainingArguments(..., max_grad_norm={max_norm})"],
            lightning=[f"Trainer(..., gradient_clip_val={max_norm})"],
            keras=[f"keras.optimizers.Adam(learning_rate=lr, clipnorm={max_norm})"],
        ),
        steps=[int(s) for s in sig.steps[idx]],
    )
