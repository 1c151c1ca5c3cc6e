"""Sporadic spikes with gradient-norm spikes: gradients that occasionally blow up."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check
from ._fix import for_framework
from ._spikes import grad_led_events, grad_z, immediate_recovery, isolated_spikes, per_epoch_counts, phase_concentration

#: Share of loss spikes that must come with a gradient-norm spike when the log has grad norms.
MIN_GRAD_SHARE = 0.5
#: Without a gradient norm, the loss spikes must at least double the loss (median over spikes).
MIN_BLIND_RATIO = 2.0


def _off_epoch(sig: RunSignals, period: int) -> bool:
    """Whether a period of gradient-led spikes is not the epoch: an RNN near its stability edge
    explodes, resets and regrows in a cycle of its own, which has nothing to do with the data order."""
    epochs = sig.epochs
    if epochs is None:
        return False
    ratio = period / epochs.length if period >= epochs.length else epochs.length / period
    return abs(ratio - round(ratio)) > 0.1


@check("exploding_gradients", "problem", "sporadic loss spikes with gradient-norm spikes")
def exploding_gradients(sig: RunSignals) -> Finding | None:
    """Fires on isolated, non-periodic loss spikes that recover at once, confirmed by gradient-norm
    spikes at the same steps when the log has a gradient norm.

    Typical of RNNs without clipping: a step lands where the loss surface is a cliff. Unlike
    outlier batches the spikes do not recur once per epoch; unlike a too-high LR the loss returns
    to its trend between them. False positives: heavy-tailed but harmless batch noise (then the
    gradient norm does not spike), and bad samples in a log without epoch marks.
    """
    if sig.run.facts.step_unit == "epoch":
        return None
    events = grad_led_events(sig)
    with_grad = len(events) >= 3
    idx = events if with_grad else isolated_spikes(sig).idx
    if len(idx) < 3:
        return None
    # Spikes at an LR jump (a warm restart) are the schedule's doing (lr_schedule_jumps).
    jumps = np.array([step for step, _, _ in sig.lr_jumps], dtype=np.int64)
    if len(jumps):
        near = np.array([np.min(np.abs(jumps - sig.steps[i])) for i in idx])
        idx = idx[near > 3 * max(1.0, float(np.median(np.diff(sig.steps))))]
        if len(idx) < 3:
            return None
    if not with_grad and immediate_recovery(sig, idx) >= 0.8:
        return None  # gone on the next step: a bad batch, not a bad update (outlier_batches)
    if not with_grad and sig.log_space and np.median(10 ** sig.residual[idx]) < MIN_BLIND_RATIO:
        return None  # with nothing but the loss, only a blow-up that doubles it is worth the name
    periodic = sig.infer_period(idx)
    own_cycle = with_grad and len(idx) >= 5 and periodic is not None and _off_epoch(sig, periodic[0])
    if periodic is not None and periodic[1] >= 0.7 and not own_cycle:
        return None  # a fixed period: the epoch (partial_last_batch, unshuffled data)
    found = per_epoch_counts(sig, idx)
    if found is not None:
        counts, pos = found
        mean = float(counts.mean())
        regular = mean > 0 and counts.var() / mean <= 0.5 and np.mean(counts > 0) >= 0.7
        if regular or phase_concentration(pos) > 0.8:
            return None  # once per epoch: outlier_batches / partial_last_batch
    ratio = 10 ** sig.residual[idx] if sig.log_space else sig.z[idx]
    evidence = [
        f"{len(idx)} sporadic loss spikes, ×{fmt(float(np.median(ratio)))} the trend (median; largest"
        f" ×{fmt(float(np.max(ratio)))}), at irregular steps, not tied to the epoch",
    ]
    if with_grad:
        _, gz = grad_z(sig)  # type: ignore[misc]
        evidence.append(
            f"each follows a gradient-norm spike ({fmt(float(np.median(gz[gz > 3.5])))} robust stds above its"
            " trend), with the gradient already high the step before: an oversized update, not one bad batch"
        )
        confidence = 0.85
    else:
        confidence = 0.5
        evidence.append("no gradient-norm series in this log: a spike in it before each loss spike would settle it")
    clip = None
    grad = sig.grad_norm
    if grad is not None and len(grad) >= 20:
        clip = float(np.percentile(grad.values, 90))
        evidence.append(
            f"90% of steps have a gradient norm below {fmt(clip)}: a clipping threshold that leaves them alone"
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
