"""A few bad samples: one spike per bad sample per epoch, at a new position each epoch."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check
from ._fix import for_framework
from ._spikes import (
    grad_spike_share,
    immediate_recovery,
    isolated_spikes,
    per_epoch_counts,
    phase_concentration,
    repeated_positions,
    steady_span,
)

#: Share of epochs that must hold a spike.
MIN_EPOCH_SHARE = 0.7
#: Variance/mean of the spike count per epoch: recurring samples give the same count every epoch
#: (≈ 0); random events (exploding gradients) are Poisson-like (≈ 1).
MAX_DISPERSION = 0.5
#: Spikes needed in all: three single spikes in four epochs are what random events give (about one run
#: in twelve at that rate); a steady count needs more to stand on.
MIN_SPIKES = 4
#: Without epoch marks: the 90th/10th percentile ratio of the spike sizes allowed. The loss on the same bad
#: samples changes as the model trains and with the batch they land in (×70 to ×1,700 on a GRU), but it
#: stays within about one and a half decades.
MAX_SIZE_SPREAD = 30
#: Spikes per epoch above which they are too many to be "a few" bad samples (said, with less confidence).
MANY_PER_EPOCH = 10


@check("outlier_batches", "problem", "spikes once per epoch at moving positions (a few bad samples)")
def outlier_batches(sig: RunSignals) -> Finding | None:
    """Fires when nearly every epoch holds the same small number of isolated spikes, at positions
    that change from epoch to epoch, in full-size batches.

    The same few samples (mislabelled, corrupt, extreme) come round once per epoch; shuffling puts
    them somewhere new each time. A fixed position would be the short last batch or unshuffled
    data instead. False positives: a genuinely hard minority class seen once per epoch (then the
    'outliers' are real data that the model should learn).
    """
    if sig.run.facts.step_unit == "epoch":
        return None
    spikes = isolated_spikes(sig)
    if len(spikes.idx) < 3:
        return None
    found = per_epoch_counts(sig, spikes.idx)
    if found is None:
        return _without_epochs(sig, spikes)
    counts, pos = found
    counts = steady_span(counts)
    share = float(np.mean(counts > 0))
    mean = float(counts.mean())
    dispersion = float(counts.var() / mean) if mean else 9.0
    if share < MIN_EPOCH_SHARE or dispersion > MAX_DISPERSION or counts.sum() < MIN_SPIKES:
        return None
    # A fixed place in the epoch: one phase for all spikes, or each spike where one was an epoch before.
    if phase_concentration(pos) > 0.8 or repeated_positions(sig, spikes.idx) >= 0.5:
        return None
    sizes = sig.batch_sizes
    nominal = sig.nominal_batch_size
    evidence = [
        f"spikes in {int(np.sum(counts > 0))} of {len(counts)} epochs, {fmt(np.median(counts))} in a typical one"
        f" (counts per epoch: {', '.join(str(c) for c in counts[:12])}{' …' if len(counts) > 12 else ''}),"
        " a steady count that random events would not give",
        "at a different position every epoch (positions within the epoch: "
        + ", ".join(f"{p % 1:.0%}" for p in pos[:8])
        + (" …" if len(pos) > 8 else "")
        + "): shuffling moves the same samples",
        f"each spike is ×{fmt(float(np.median(spikes.ratio)))} the trend (median) and the loss recovers at once",
    ]
    confidence = 0.8
    if sizes is not None and nominal:
        at = sizes[spikes.idx]
        if np.nanmedian(at) < nominal:
            return None  # short batches: that is partial_last_batch territory
        evidence.append(f"the batches at the spikes are full ({fmt(nominal)} samples)")
        confidence = 0.85
    grads = grad_spike_share(sig, spikes.idx)
    if grads is not None and grads[0] > 0.5:
        evidence.append(
            f"the gradient norm jumps ×{fmt(grads[1])} at the same steps: those samples dominate the update"
        )
    return Finding(
        id="outlier_batches",
        severity="problem",
        confidence=confidence,
        title="A few bad samples: one loss spike each per epoch",
        evidence=evidence,
        fix=_fix(sig),
        steps=[int(s) for s in sig.steps[spikes.idx]],
    )


def _fix(sig: RunSignals) -> list[str]:
    return for_framework(
        sig,
        cause="outlier_batches",
        torch=[
            "# find them: the per-sample loss of the spiking batches",
            "per_sample = F.cross_entropy(logits, y, reduction='none')  # or mse_loss(..., reduction='none')",
            "suspects = batch_indices[per_sample.topk(3).indices]  # log, inspect, fix or drop them",
            "loss = F.smooth_l1_loss(pred, y)  # a robust loss limits what one sample can do",
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)",
        ],
        hf=["TrainingArguments(..., max_grad_norm=1.0)  # and inspect the samples with the largest loss"],
        keras=["keras.optimizers.Adam(learning_rate=lr, clipnorm=1.0)  # and inspect the largest-loss samples"],
    )


def _without_epochs(sig: RunSignals, spikes) -> Finding | None:
    """No epoch marks: huge spikes, of sizes within a bounded spread, that vanish on the very next step
    point to samples (the model is not damaged, as after an explosion)."""
    ratio = spikes.ratio
    steady = float(np.percentile(ratio, 90) / max(np.percentile(ratio, 10), 1e-12))
    recovery = immediate_recovery(sig, spikes.idx)
    if len(spikes.idx) < 4 or recovery < 0.8 or steady > MAX_SIZE_SPREAD or float(np.median(ratio)) < 10:
        return None
    evidence = [
        f"{len(spikes.idx)} huge spikes (×{fmt(float(np.percentile(ratio, 10)))} to"
        f" ×{fmt(float(np.percentile(ratio, 90)))} the trend) that vanish on the very next step: the batch,"
        " not the model, is the problem — the same few samples, each time they come round",
        _epoch_note(sig),
    ]
    per_epoch = None
    if sig.epochs is not None:
        per_epoch = len(spikes.idx) * sig.epochs.length / (sig.steps[-1] - sig.steps[0] + 1)
    many = per_epoch is not None and per_epoch > MANY_PER_EPOCH
    if many:
        evidence.append(
            f"but about {fmt(per_epoch)} per epoch: as bad samples they would be many; a hard minority that the"
            " model has not learnt yet (each batch holding one of them) looks the same")
    return Finding(
        id="outlier_batches",
        severity="problem",
        confidence=0.45 if many else 0.55,
        title="A few bad samples: huge one-step loss spikes",
        evidence=evidence,
        fix=_fix(sig),
        steps=[int(s) for s in sig.steps[spikes.idx]],
    )


def _epoch_note(sig: RunSignals) -> str:
    """What would settle it: epoch marks, or more epochs where the log has too few to count spikes in."""
    if sig.epochs is None:
        return "this log has no epoch marks: an epoch series would show one spike per bad sample per epoch"
    covered = (sig.steps[-1] - sig.steps[0] + 1) / sig.epochs.length
    return (f"the log covers {fmt(covered)} epochs, too few to check that every epoch holds the same number of"
            " spikes (one per bad sample): a longer run would show it")
