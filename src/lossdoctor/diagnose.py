"""Run the checks over a run, rank the findings, and give the verdict."""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from .checks import all_checks
from .findings import INCONCLUSIVE_ID, Diagnosis, Finding
from .run import Run
from .signals import MIN_POINTS, RunSignals

#: When the first id fires, the second is the same story told worse, and is dropped.
EXPLAINED_BY: dict[str, set[str]] = {
    "adam_near_convergence": {"lr_too_high", "exploding_gradients"},
    "lr_too_high": {"no_progress"},
    # a fixed order's own profile rises through the epoch as well: re-exposure cannot be told from it
    "unshuffled_data": {"epoch_sawtooth"},
}
STRONG = 0.8
CONFIRMED = 0.7
RECORDED = 0.9
#: The same when the first reaches the confidence given and the second is not confirmed by a series of its own
#: (confidence under RECORDED), or when the second is the less confident of the two: a repeated order jumps where
#: it wraps round at each epoch start, and a model left in eval mode jumps back to its train-mode level there;
#: either looks like a short last batch unless the recorded batch size shows one. A sorted order's first change of
#: class or source is also a jump in the first steps, which reads as a first-update overshoot (lr_too_high).
EXPLAINED_UNLESS_RECORDED: dict[str, tuple[float, set[str]]] = {
    "unshuffled_data": (STRONG, {"partial_last_batch", "lr_too_high"}),
    "eval_mode_leak": (CONFIRMED, {"partial_last_batch"}),
}
#: When the first id fires, the second may be its consequence: it is kept, but ranked lower.
DEMOTED_BY: dict[str, set[str]] = {
    "partial_last_batch": {"lr_too_high"},
    "outlier_batches": {"lr_too_high"},
    # the loss returning to its train-mode level at each epoch start looks like a jump that lasts
    "eval_mode_leak": {"exploding_gradients"},
    # data in a fixed, sorted order jumps where one class or source gives way to the next: a jump at the
    # first class change looks like a first-step overshoot, a loss near 0 inside each block like Adam's floor,
    # and the order's few hard batches among easy ones like sporadic spikes
    "unshuffled_data": {"lr_too_high", "adam_near_convergence", "exploding_gradients"},
}
#: The same when the log gives no epochs: a repeated order then rests on a period inferred from the loss,
#: and a loss four decades down that oscillates or bursts with a period of its own is Adam's doing.
DEMOTED_BY_WITHOUT_EPOCHS: dict[str, set[str]] = {
    **DEMOTED_BY,
    "unshuffled_data": {"lr_too_high"},
    "adam_near_convergence": {"unshuffled_data"},
}
#: The same, only when the first finding is itself confirmed (confidence at least CONFIRMED): a leak whose
#: evaluations sit at the level changes returns to train mode at each epoch start, which, once the trend
#: catches up within a few steps, looks like a spike at the epoch boundary.
#: Training with dropout off for part of every epoch drops that regularisation, so validation may well rise:
#: the overfitting is the leak's consequence, and its falling training loss is the eval-mode part.
DEMOTED_BY_CONFIRMED: dict[str, set[str]] = {
    "eval_mode_leak": {"partial_last_batch", "overfitting"},
    # gradient blow-ups seen in the gradient norm itself throw the weights off, and the loss climbs after them
    "exploding_gradients": {"lr_too_high"},
}
#: Generic explanations rank after specific ones of the same severity: small-batch noise is what is
#: left when nothing more specific explains the fluctuation.
GENERIC = {"small_batch_noise"}
#: A per-epoch log needs at least this many epochs for a verdict.
MIN_EPOCH_POINTS = 5


def diagnose(run: Run, *, mute: Iterable[str] = ()) -> Diagnosis:
    """Diagnose one run. `mute` lists check ids to skip (as a user silences a linter rule)."""
    muted = set(mute)
    notes = list(run.facts.notes)
    series = sorted(run.series)
    base = Diagnosis("healthy", [], run.path, run.format, series, run.num_steps, notes)
    loss = run.get("loss")
    finite = int(np.isfinite(loss.values).sum()) if loss is not None else 0
    if run.facts.step_unit == "epoch":
        notes.append(
            "this log has one loss per epoch: step-level causes (partial last batch, small-batch noise,"
            " spikes) cannot be seen in it"
        )
    minimum = MIN_EPOCH_POINTS if run.facts.step_unit == "epoch" else MIN_POINTS
    sig = RunSignals(run) if loss is not None else None
    findings: list[Finding] = []
    if sig is not None:
        for chk in all_checks():
            if chk.id in muted:
                continue
            if finite < minimum and chk.id != "numerical_instability":
                continue
            try:
                found = chk.fn(sig)
            except Exception as exc:  # a fault in one check must not hide the others
                if os.environ.get("LOSSDOCTOR_STRICT"):
                    raise
                notes.append(f"check {chk.id} failed on this run ({type(exc).__name__}: {exc}); skipped")
                continue
            if found is not None:
                findings.append(found)
    inferred = sig is not None and sig.epochs is None
    findings = _demote(_drop_explained(findings), DEMOTED_BY_WITHOUT_EPOCHS if inferred else DEMOTED_BY)
    confirmed = [f for f in findings if f.confidence >= CONFIRMED]
    findings = _demote(findings, {k: v for k, v in DEMOTED_BY_CONFIRMED.items() if k in {f.id for f in confirmed}})
    findings.sort(key=lambda f: (f.severity != "problem", f.id in GENERIC, -f.confidence))
    base.findings = findings
    if any(f.severity == "problem" for f in findings):
        base.verdict = "problem"
    elif finite < minimum:
        base.verdict = "inconclusive"
        base.findings = [_too_short(finite, minimum, run), *findings]
    return base


def _drop_explained(findings: list[Finding]) -> list[Finding]:
    present = {f.id for f in findings}
    hidden = set().union(*(EXPLAINED_BY.get(i, set()) for i in present)) if present else set()
    # a consequence goes when its cause is strong enough, or when it is the weaker reading of the same jump
    below: dict[str, float] = {}
    for f in findings:
        least, consequences = EXPLAINED_UNLESS_RECORDED.get(f.id, (1.0, set()))
        for c in consequences:
            below[c] = max(below.get(c, 0.0), RECORDED if f.confidence >= least else f.confidence)
    return [f for f in findings if f.id not in hidden and not f.confidence < below.get(f.id, 0.0)]


def _demote(findings: list[Finding], rules: dict[str, set[str]]) -> list[Finding]:
    present = {f.id: f for f in findings}
    for cause, consequences in rules.items():
        if cause not in present:
            continue
        for f in findings:
            if f.id in consequences:
                f.confidence = round(f.confidence * 0.6, 3)
                f.evidence.append(f"this may follow from {cause} (ranked above): fix that first, then look again")
    return findings


def _too_short(finite: int, minimum: int, run: Run) -> Finding:
    unit = "epochs" if run.facts.step_unit == "epoch" else "points"
    return Finding(
        id=INCONCLUSIVE_ID,
        severity="benign",
        confidence=1.0,
        title="Too little of the run is logged to judge it",
        evidence=[
            f"the log holds {finite} finite loss {unit}; at least {minimum} are needed to tell"
            " a fluctuation from the trend"
        ],
        fix=["log the loss every step (or every few steps) for the whole run, then run lossdoctor again"],
        steps=[],
    )
