"""NaN or inf in the loss."""

from __future__ import annotations

import re

import numpy as np

from ..findings import Finding
from ..keys import normalise
from ..signals import RunSignals, decimal_resolution, fmt, robust_std
from . import check
from ._fix import for_framework


def climb_before(sig: RunSignals, step: int) -> float | None:
    """How many times above its lowest earlier level the loss stood just before `step`.

    A NaN reached by a climb is a divergence (too large steps); one reached from a normal level is a
    numerical fault (log of 0, overflow) or an exploding gradient. None without enough history or
    for losses that are not positive.
    """
    before = int(np.searchsorted(sig.steps, step))
    if before < 8 or not sig.log_space:
        return None
    # Medians of tenths of the history (5 points at least), and of the last half-tenth: a single huge
    # loss printed just before the NaN is a spike, not a climb, and one lucky low stretch is not "the
    # lowest level". A rise within what the scatter of such medians allows is no climb either.
    size = max(5, before // 10)
    if before < 2 * size:
        return None
    used = (before // size) * size
    lowest = float(np.min(np.median(sig.y[before - used : before].reshape(-1, size), axis=1)))
    tail = max(3, size // 2)
    last = float(np.median(sig.y[before - tail : before]))
    # The scatter of the history compared, where it exceeds the run's: a loss smooth at first (a running mean)
    # and noisy later would otherwise see a climb in its noise.
    history = sig.y[before - used : before]
    noise = max(sig.noise, robust_std(np.diff(history)) / np.sqrt(2))
    scatter = 1.25 * noise * np.sqrt(1 / tail + 1 / size)  # std of a difference of two medians
    # The lowest of k block medians sits about sqrt(2 ln k) of their own scatter below their centre by
    # selection alone: a loss that only scatters would seem to climb from that luckiest block.
    blocks = used // size
    selection = 1.25 * noise / np.sqrt(size) * np.sqrt(2 * np.log(blocks)) if blocks > 1 else 0.0
    if last - lowest < 3 * scatter + selection:
        return 1.0
    return float(10 ** (last - lowest))


def gradient_fell_before(sig: RunSignals, step: int) -> bool:
    """Whether the logged gradient norm ends the stretch before `step` below its earlier median: a loss
    that rises while the gradient shrinks is saturating (log of a probability heading to 0), not
    diverging, since steps too large make the gradient grow."""
    grad = sig.grad_norm
    if grad is None:
        return False
    before = grad.values[(grad.steps < step) & np.isfinite(grad.values)]
    if len(before) < 8:
        return False
    return bool(np.median(before[-3:]) < np.median(before[:-3]))


def frozen_at_zero(sig: RunSignals) -> tuple[int, int] | None:
    """(first step, length) of a run of exact zeros that starts right after a clearly positive loss.

    A loss that falls smoothly to the rounding floor is converging; one that drops from far above it
    straight to exactly 0 and stays there is a NaN written as 0 (HF's NaN filter logs 0.0 once the
    whole logging window is NaN) or a model whose outputs died.
    """
    values = sig.all_values
    resolution = decimal_resolution(values)
    zero = values == 0
    if resolution is None or zero.sum() < 5:
        return None
    first = int(np.argmax(zero))
    if first == 0 or not np.all(zero[first : first + 5]):
        return None
    before = values[first - 1]
    if not np.isfinite(before) or before < 20 * resolution:
        return None
    run = int(np.argmin(zero[first:])) if not zero[first:].all() else len(values) - first
    return int(sig.all_steps[first]), run


#: Non-finite gradient norms in the first steps of a run are a mixed-precision loss scaler calibrating
#: (it starts at 2^16 and halves on each overflow); they count from this step on.
SCALER_CALIBRATION_STEPS = 50
#: A loss scaler that grows every 2000 steps overflows about that often: a NaN/inf gradient on more than
#: this share of the logged steps (and at least `MIN_BAD_GRADIENTS` of them) is a fault, not calibration.
MAX_ROUTINE_SHARE = 0.01
MIN_BAD_GRADIENTS = 3


def hidden_nonfinite(sig: RunSignals) -> list[str]:
    """Evidence of NaN/inf that the logged training loss does not show: non-finite gradient norms
    (a loop or an fp16 scaler that skips such steps, HF's NaN filter averaging them away) or a
    non-finite validation loss (weights or activations that became NaN)."""
    evidence = []
    grad = sig.run.get("grad_norm")
    if grad is not None and len(grad):
        late = grad.steps >= grad.steps[0] + SCALER_CALIBRATION_STEPS
        # only where the logged loss is finite: a NaN loss at the same step already says it
        at = np.clip(np.searchsorted(sig.all_steps, grad.steps), 0, len(sig.all_steps) - 1)
        loss_nan = (sig.all_steps[at] == grad.steps) & ~np.isfinite(sig.all_values[at])
        bad = late & ~np.isfinite(grad.values) & ~loss_nan
        if bad.sum() >= MIN_BAD_GRADIENTS and bad.sum() > MAX_ROUTINE_SHARE * late.sum():
            evidence.append(
                f"the gradient norm is NaN/inf at {int(bad.sum())} of {int(late.sum())} logged steps after the"
                f" first {SCALER_CALIBRATION_STEPS} (first at step {int(grad.steps[bad][0])}) while the logged"
                " loss stays finite: those steps were skipped or averaged away, and far more often than an"
                " fp16 loss scaler's occasional overflow"
            )
        elif not np.isfinite(grad.values[-1]) and not loss_nan[-1] \
                and _stopped_there(sig, int(grad.steps[-1]), bool(late[-1])):
            planned = sig.run.facts.planned_steps
            evidence.append(
                f"the gradient norm is NaN/inf at the last logged step ({int(grad.steps[-1])}) and the run stopped"
                " there" + (f", {planned - int(grad.steps[-1])} steps before the {planned} it was set up for"
                            if planned and planned > grad.steps[-1] else "")
                + ": training ended on non-finite gradients, which the logged loss does not show")
    val = sig.run.get("val_loss")
    if val is not None and len(val) and not np.isfinite(val.values).all():
        first = int(val.steps[~np.isfinite(val.values)][0])
        evidence.append(f"the validation loss is NaN/inf from step {first}: the model's weights or outputs"
                        " became non-finite")
    return evidence


#: Names of an fp16 loss scaler's scale (`amp_scale`, `loss_scale`, `grad_scaler/scale`, `scaler`), normalised.
_LOSS_SCALE = re.compile(r"(?:^|_)(?:amp_scale|amp_loss_scale|loss_scale|lossscale|loss_scaler|grad_scale|"
                         r"grad_scaler_scale|scaler_scale|scaler)$")
#: A fall of the loss scale by this factor or more: ten more overflowing steps than the scaler's growth steps.
SCALE_FALL = 2.0**10


def _loss_scale_fell(sig: RunSignals) -> list[str]:
    """An fp16 loss scale that fell many-fold: the scaler halves it at every step whose gradients overflow, so
    it says the NaN/inf came from fp16 range, which bf16 or fp32 in the loss avoid."""
    for name, series in sig.run.series.items():
        if not _LOSS_SCALE.search(normalise(name)):
            continue
        values = series.values[np.isfinite(series.values) & (series.values > 0)]
        if len(values) >= 2 and float(np.max(values)) / float(values[-1]) >= SCALE_FALL:
            return [f"the fp16 loss scale ({name}) fell from {fmt(float(np.max(values)))} to {fmt(float(values[-1]))}:"
                    " the scaler halves it at every step whose gradients overflow, so fp16 kept overflowing"]
    return []


def _stopped_there(sig: RunSignals, step: int, past_calibration: bool) -> bool:
    """Whether a run whose last logged gradient norm is NaN/inf ended at that NaN: past a loss scaler's calibration
    (an overflow at the very end is then rare), or short of the steps it was set up for (a loop, callback or
    guard stops on NaN; a scaler's overflow is skipped and training goes on)."""
    planned = sig.run.facts.planned_steps
    return past_calibration or (planned is not None and step < planned)


@check("numerical_instability", "problem", "inf/NaN in the loss")
def numerical_instability(sig: RunSignals) -> Finding | None:
    """Fires when the logged loss holds NaN or inf, or when the gradient norm (beyond what an fp16
    loss scaler's calibration and rare overflows explain) or the validation loss does while the
    logged loss hides it.

    Looks at what precedes the first non-finite value: from a normal level it is a numerical fault
    (`log` of a probability that reached 0, overflow in fp16); after a steady climb it is a divergence
    and `lr_too_high` ranks first. False positives: a logger that writes NaN for "not measured at this
    step" (some CSV exports) — such steps hold NaN in every column.
    """
    bad = sig.nonfinite_steps
    frozen = frozen_at_zero(sig) if len(bad) == 0 else None
    if frozen is not None:
        return _frozen_finding(sig, *frozen)
    if len(bad) == 0:
        hidden_evidence = hidden_nonfinite(sig)
        return _hidden_finding(sig, hidden_evidence) if hidden_evidence else None
    values = sig.all_values[~np.isfinite(sig.all_values)]
    kinds = sorted({("NaN" if np.isnan(v) else ("+inf" if v > 0 else "-inf")) for v in values})
    first = int(bad[0])
    hidden = len(sig.hidden_nan_steps)
    evidence = [
        f"{len(bad)} of {len(sig.all_values)} logged losses are {'/'.join(kinds)}; the first at step {first}"
        + (f", the last at step {int(bad[-1])}" if len(bad) > 1 else "")
    ]
    if hidden:
        grad = sig.run.get("grad_norm")
        bad_grad_steps = grad.steps[~np.isfinite(grad.values)] if grad is not None else np.array([])
        with_bad_grad = int(np.isin(sig.hidden_nan_steps, bad_grad_steps).sum())
        why = (f"where the gradient norm is NaN/inf ({'at that step' if hidden == 1 else f'{with_bad_grad} of them'})"
               if with_bad_grad else "between losses hundreds of times larger")
        evidence[0] = (
            f"{hidden} logged loss{'' if hidden == 1 else 'es'} {'is' if hidden == 1 else 'are'} exactly 0.0 {why}"
            f" (first at step {int(sig.hidden_nan_steps[0])}): Hugging Face's NaN filter logs 0.0 for a NaN/inf"
            " step (set logging_nan_inf_filter=False to see them)"
        ) + (f"; {len(bad) - hidden} more are {'/'.join(kinds)}" if len(bad) > hidden else "")
    rise = climb_before(sig, first)
    confidence = 0.9
    if rise is not None and rise >= 3 and gradient_fell_before(sig, first):
        evidence.append(
            f"just before step {first} the loss stood ×{fmt(rise)} above its lowest earlier level while the"
            " gradient norm fell: the model saturates (a probability heading to 0 under a log), it does not"
            " diverge"
        )
    elif rise is not None and rise >= 3:
        evidence.append(
            f"just before step {first} the loss stood ×{fmt(rise)} above its lowest earlier level: a divergence"
            " (see lr_too_high), not an isolated numerical fault"
        )
        confidence = 0.6
    elif rise is not None:
        evidence.append(
            f"the loss was at a normal level just before (×{fmt(rise)} its lowest earlier level):"
            " a numerical fault in the loss or a sudden overflow, not a slow divergence"
        )
    flags = sig.run.get("grad_nonfinite")
    if flags is not None and np.nansum(flags.values) > 0:
        bad_grads = flags.steps[flags.values > 0.5]
        evidence.append(f"the recorder saw NaN/inf gradients on {len(bad_grads)} steps, the first at step"
                        f" {int(bad_grads[0])}")
    later_steps = sig.all_steps[sig.all_steps > first]
    later = sig.all_values[sig.all_steps > first]
    # With the NaN filter at work an exact 0.0 is suspect too, and the zeros read as NaN were logged as 0.0.
    zeros = int(np.sum(later == 0) + np.sum(np.isin(later_steps, sig.hidden_nan_steps))) if hidden else 0
    finite = int(np.sum(np.isfinite(later) & (later != 0))) if hidden else int(np.sum(np.isfinite(later)))
    if finite > 0:
        evidence.append(f"training logged {finite} finite losses after it"
                        + (f", and {zeros} more of exactly 0.0" if zeros else ""))
    elif zeros:
        evidence.append(f"every later loss is exactly 0.0 ({zeros} of them): the run stayed NaN/inf to the end")
    evidence += hidden_nonfinite(sig) + _loss_scale_fell(sig)
    fix = for_framework(
        sig,
        cause="numerical_instability",
        torch=[
            "# compute the loss from logits, never log(softmax(x)) or log(sigmoid(x)):",
            "loss = torch.nn.functional.cross_entropy(logits, target)  # or BCEWithLogitsLoss",
            "torch.autograd.set_detect_anomaly(True)  # while debugging: names the op that made the NaN",
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)",
            "# mixed precision: prefer torch.autocast(device_type, dtype=torch.bfloat16) over fp16",
        ],
        hf=["TrainingArguments(..., max_grad_norm=1.0, bf16=True, logging_nan_inf_filter=False)"],
        lightning=["Trainer(..., gradient_clip_val=1.0, precision='bf16-mixed', detect_anomaly=True)"],
        keras=["optimizer = keras.optimizers.Adam(learning_rate=lr, clipnorm=1.0)",
               "callbacks=[keras.callbacks.TerminateOnNaN()]"],
    )
    return Finding(
        id="numerical_instability",
        severity="problem",
        confidence=confidence,
        title="The loss became NaN/inf",
        evidence=evidence,
        fix=fix,
        steps=[int(s) for s in bad[:200]],
    )


def _hidden_finding(sig: RunSignals, evidence: list[str]) -> Finding:
    if sig.run.facts.nan_filtered:
        evidence.append("Hugging Face replaces NaN/inf step losses by the window mean (logging_nan_inf_filter):"
                        " the logged loss hides them")
    return Finding(
        id="numerical_instability",
        severity="problem",
        confidence=0.75,
        title="NaN/inf in the gradients or the validation loss, hidden from the logged loss",
        evidence=evidence,
        fix=for_framework(
            sig,
            cause="numerical_instability",
            torch=[
                "loss = torch.nn.functional.cross_entropy(logits, target)  # from logits, never log(softmax)",
                "torch.autograd.set_detect_anomaly(True)  # while debugging: names the op that made the NaN",
                "# mixed precision: prefer torch.autocast(device_type, dtype=torch.bfloat16) over fp16",
            ],
            hf=["TrainingArguments(..., logging_nan_inf_filter=False, bf16=True)"],
            lightning=["Trainer(..., precision='bf16-mixed', detect_anomaly=True)"],
            keras=["callbacks=[keras.callbacks.TerminateOnNaN()]"],
        ),
        steps=[],
    )


def _frozen_finding(sig: RunSignals, step: int, length: int) -> Finding:
    i = int(np.searchsorted(sig.all_steps, step))
    before = float(sig.all_values[i - 1])
    evidence = [
        f"the loss drops from {fmt(before)} straight to exactly 0 at step {step} and stays there for"
        f" {length} logged points: no training converges in one log interval by that much",
    ]
    if sig.run.facts.nan_filtered:
        evidence.append(
            "Hugging Face replaces NaN/inf losses by the window mean and logs 0.0 once every step of a"
            " window is NaN: the loss became NaN here (set logging_nan_inf_filter=False to see it)"
        )
    grad = sig.run.get("grad_norm")
    if grad is not None and np.any(~np.isfinite(grad.values[grad.steps >= step])):
        evidence.append("the gradient norm is NaN/inf from there on")
    return Finding(
        id="numerical_instability",
        severity="problem",
        confidence=0.85,
        title="The loss became NaN (logged as 0)",
        evidence=evidence,
        fix=for_framework(
            sig,
            cause="numerical_instability",
            torch=[
                "loss = torch.nn.functional.cross_entropy(logits, target)  # from logits, never log(softmax)",
                "torch.autograd.set_detect_anomaly(True)  # while debugging: names the op that made the NaN",
                "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)",
            ],
            hf=["TrainingArguments(..., logging_nan_inf_filter=False, max_grad_norm=1.0, bf16=True)"],
        ),
        steps=[step],
    )
