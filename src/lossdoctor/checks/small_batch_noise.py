"""Normal step-to-step scatter from sampling small batches: benign."""

from __future__ import annotations

import math

import numpy as np

from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check
from ._fix import for_framework

#: Relative scatter (robust std of log10 residual) above which the fluctuation is worth explaining:
#: 0.04 decades is about ±10% of the loss from one step to the next.
MIN_SCATTER_DECADES = 0.04
#: Lag-1 autocorrelation above this is not independent batch-to-batch noise.
MAX_AUTOCORR = 0.35


@check("small_batch_noise", "benign", "step-to-step noise from small batches (normal)")
def small_batch_noise(sig: RunSignals) -> Finding | None:
    """Fires when the loss scatters by ≥ ~10% from step to step around a trend that falls or holds,
    and the scatter is uncorrelated from step to step (each batch is an independent sample).

    That is what a small batch looks like: the loss of each batch estimates the mean loss with an
    error that shrinks as 1/sqrt(batch size). It is harmless while the trend and validation improve.
    False positives: a run whose scatter comes from something periodic (then the periodic checks
    fire first) and per-epoch logs (step_unit epoch), which this check skips.
    """
    if sig.n < 50 or not sig.log_space or sig.run.facts.step_unit == "epoch":
        return None
    scatter = sig.noise
    if scatter < MIN_SCATTER_DECADES or abs(sig.lag1_autocorr) > MAX_AUTOCORR:
        return None
    medians, se = sig.segments(10)
    if medians[-1] - medians[0] > max(np.log10(1.1), 3 * se):
        return None  # a rising trend is not benign noise
    start, end = float(10 ** medians[0]), float(10 ** medians[-1])
    pct = 100 * (10**scatter - 1)
    correlation = (f"partly carried over between steps (lag-1 autocorrelation {sig.lag1_autocorr:.2f}): more than"
                   " independent batches, which give none" if sig.has_memory else
                   f"uncorrelated from one step to the next (lag-1 autocorrelation {sig.lag1_autocorr:.2f}), as"
                   " independent batches give")
    evidence = [
        f"the loss scatters ±{pct:.0f}% around its trend from one step to the next (robust std of the"
        f" log residual {scatter:.3f} decades), {correlation}",
        f"the trend {'falls' if end < start * 0.95 else 'holds'} from {fmt(start)} to {fmt(end)}",
    ]
    confidence = 0.75
    window = sig.run.facts.loss_window
    if window > 1:
        evidence.append(
            f"each logged point averages {window} steps, so the scatter of single steps is about"
            f" {math.sqrt(window):.1f}× larger than shown"
        )
    batch = sig.nominal_batch_size
    if batch:
        evidence.append(f"batch size {fmt(batch)}")
        confidence = 0.85 if batch <= 64 else 0.6
    noise_scale = sig.run.get("gradient_noise_scale")
    if noise_scale is not None and batch and np.isfinite(noise_scale.values).any():
        b_simple = float(np.nanmedian(noise_scale.values[len(noise_scale.values) // 2 :]))
        if b_simple > batch:
            evidence.append(
                f"recorded gradient noise scale B_simple ≈ {fmt(b_simple)} samples, ×{fmt(b_simple / batch)} the"
                f" batch of {fmt(batch)}: below it, gradient noise dominates each step (McCandlish et al. 2018)"
            )
            confidence = max(confidence, 0.9)
    val = sig.val
    if val is not None and len(val) >= 3:
        best = float(np.min(val.values))
        last = float(val.values[-1])
        if last <= best * 1.1:
            evidence.append(f"validation loss is fine: {fmt(float(val.values[0]))} → {fmt(last)} (best {fmt(best)})")
        else:
            evidence.append(f"but validation loss rose from its best {fmt(best)} to {fmt(last)}")
            confidence -= 0.25
    if sig.epochs is None:
        # Loss-only logs hide what repeats with the epoch: say which series would settle it.
        evidence.append(
            "this log marks no epochs: a pattern that repeats every epoch (the re-exposure sawtooth, a model left"
            " in eval mode, data in a fixed order, a short last batch) and is smaller than this scatter is hard to"
            " tell from noise, and a period inferred from the loss alone is a guess; logging the epoch"
            + (" and a validation loss" if val is None else "")
            + " would settle it"
        )
        confidence -= 0.1
    if sig.has_memory:
        confidence -= 0.1  # some of the scatter is not sampling noise
    k = max(2, min(32, math.ceil((scatter / MIN_SCATTER_DECADES) ** 2)))
    spikes = np.flatnonzero(np.abs(sig.z) > 4)
    return Finding(
        id="small_batch_noise",
        severity="benign",
        confidence=round(confidence, 3),
        title="Normal noise from small batches: the trend is what matters",
        evidence=evidence,
        fix=for_framework(
            sig,
            cause="small_batch_noise",
            torch=[
                f"# accumulate {k} batches per step: noise ∝ 1/sqrt(effective batch), ±{pct:.0f}% -> about ±10%",
                f"loss = loss_fn(model(x), y) / {k}",
                "loss.backward()",
                f"if (i + 1) % {k} == 0:",
                "    optimizer.step(); optimizer.zero_grad()",
                "# or just smooth what you display, e.g. an EMA with alpha 0.05 (TensorBoard smoothing 0.9)",
            ],
            hf=[f"TrainingArguments(..., gradient_accumulation_steps={k})"],
            lightning=[f"Trainer(..., accumulate_grad_batches={k})"],
            keras=[f"keras.optimizers.Adam(learning_rate=lr, gradient_accumulation_steps={k})"],
        ),
        steps=[int(s) for s in sig.steps[spikes[:50]]],
    )
