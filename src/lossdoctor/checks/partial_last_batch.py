"""A spike at the last step of every epoch, where the batch is smaller."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..epochs import infer_epochs
from ..findings import Finding
from ..signals import SPIKE_Z, RunSignals, fmt
from . import check
from ._fix import for_framework

#: A point this many local robust stds off the trend counts as anomalous within one epoch.
ANOMALY_Z = 2.5
#: Share of epochs that must show the anomaly, with the same sign, at the same position.
MIN_CONSISTENCY = 0.6
#: Largest chance of seeing that many anomalous epochs at one position from noise alone.
MAX_CHANCE = 2e-3
#: The same chance, far smaller, when fewer than MIN_CONSISTENCY of the epochs are anomalous.
MAX_CHANCE_DILUTED = 1e-5
#: A faint last-step departure: epochs needed, share in one direction, and standard errors of its median.
FAINT_MIN_EPOCHS = 8
FAINT_SAME_SIGN = 0.9
FAINT_T = 3.5
#: In a log of window means (HF `logging_steps`), the window holding the short batch departs by its share of
#: the window only; there the side it departs to in nearly every epoch (a sign test at this two-sided level)
#: with FAINT_T_WINDOWED standard errors is enough.
FAINT_SIGN_P_WINDOWED = 1e-3
FAINT_T_WINDOWED = 2.0


def binomial_tail(n: int, k: int, p: float) -> float:
    """P(at least k successes in n trials of chance p), in log space: thousands of epochs (a short
    inferred period over a long log) overflow the plain sum."""
    if k <= 0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * log_p + (n - j) * log_q
             for j in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


@dataclass
class BoundaryAnomaly:
    """A fixed-position anomaly next to epoch boundaries."""

    offset: int  # -1: last point before the epoch start; 0: first point of the epoch
    idx: np.ndarray  # the anomalous points, one per epoch
    median_z: float
    consistency: float
    epochs: int
    same_sign: float = 0.0  # share of epochs departing in the common direction, whatever the size

    @property
    def t(self) -> float:
        """The median departure in standard errors of a median over the epochs."""
        return abs(self.median_z) * np.sqrt(self.epochs) / 1.25

    @property
    def established(self) -> bool:
        """Large in most epochs (and more often than chance allows: a robust z of 2.5 happens at about
        one step in twenty), or modest but in the same direction in nearly all of them."""
        hits = round(self.consistency * self.epochs)
        by_chance = binomial_tail(self.epochs, hits, 0.05)
        large = self.consistency >= MIN_CONSISTENCY and by_chance <= MAX_CHANCE
        # A loss logged as a mean over several steps dilutes the last batch into a window: fewer epochs
        # reach the 2.5 line, but far more than chance allows, and most depart the same way.
        diluted = by_chance <= MAX_CHANCE_DILUTED and self.same_sign >= 0.75
        return large or diluted or (self.same_sign >= 0.8 and self.t >= 5)


def boundary_anomaly(
    sig: RunSignals, starts: np.ndarray, offsets: tuple[int, ...] = (-2, -1, 0, 1)
) -> BoundaryAnomaly | None:
    """The position around the epoch starts where the loss departs most, and most consistently.

    When each logged loss is a mean over a window of steps (HF's logging_steps), the last batch of
    an epoch sits in the first logged point at or after it, so that point counts as the epoch's last.
    """
    if (sig.run.facts.loss_window or 1) > 1:
        first_of_epoch = np.searchsorted(sig.steps, starts - 1, side="left") + 1
    else:
        first_of_epoch = np.searchsorted(sig.steps, starts, side="left")
    first_of_epoch = first_of_epoch[(first_of_epoch > 1) & (first_of_epoch < sig.n - 1)]
    if len(first_of_epoch) < 2:
        return None
    best: BoundaryAnomaly | None = None
    for offset in offsets:
        idx = first_of_epoch + offset
        idx = idx[(idx >= 0) & (idx < sig.n)]
        z = sig.z[idx]
        med = float(np.median(z))
        same_sign = np.sign(z) == np.sign(med)
        consistency = float(np.mean(same_sign & (np.abs(z) >= ANOMALY_Z)))
        candidate = BoundaryAnomaly(offset, idx, med, consistency, len(idx), float(np.mean(same_sign)))
        if best is None or abs(med) * consistency > abs(best.median_z) * best.consistency:
            best = candidate
    return best


#: Share of epochs whose loss rises from start to end for the drop at each epoch start to be the sawtooth's.
SAWTOOTH_SHARE = 0.8


def _epochs_ramp_up(sig: RunSignals) -> bool:
    """Whether nearly every epoch's loss climbs from its start to its end (the re-exposure sawtooth)."""
    folded = sig.folded
    if folded is None:
        return False
    slopes = folded.slopes(skip_first_training_epoch=True)
    return len(slopes) >= 3 and float(np.mean(slopes > 0)) >= SAWTOOTH_SHARE and float(np.median(slopes)) > 0


def periodic_anomaly(sig: RunSignals) -> tuple[int, BoundaryAnomaly] | None:
    """Without epoch marks: an anomaly that recurs every P steps at a fixed phase.

    P comes from the spacing of strong spikes, or else from the autocorrelation of the loss; the
    phase is the one where the loss departs most consistently.
    """
    spikes = np.flatnonzero(np.abs(sig.z) > SPIKE_Z)
    found = sig.infer_period(spikes, search=True)
    if found is not None and found[1] >= 0.7:
        period = found[0]
        phase = (sig.steps[spikes] - sig.steps[0]) % period
        values, counts = np.unique(phase, return_counts=True)
        anchor = int(values[np.argmax(counts)])
    else:
        inferred = infer_epochs(sig)
        if inferred is None:
            return None
        period = round(inferred.length)
        phase = (sig.steps - sig.steps[0]) % period
        medians = np.array([np.median(sig.z[phase == k]) if np.any(phase == k) else 0.0 for k in range(period)])
        anchor = int(np.argmax(np.abs(medians)))
    if sig.n < 3 * period:
        return None
    # Treat the step after the recurring spike as an "epoch start" and reuse the boundary analysis.
    starts = np.arange(sig.steps[0] + anchor + 1, sig.steps[-1] + 1, period)
    anomaly = boundary_anomaly(sig, starts)
    if anomaly is None or anomaly.offset != -1:
        return None
    return period, anomaly


def _faint_last_step(sig: RunSignals, epochs) -> BoundaryAnomaly | None:
    """A modest departure at exactly the last step of the epoch, in one direction in nearly every one of
    many epochs: what a short batch leaves in a log that dilutes it. Not when the whole order repeats
    (unshuffled data: the last batch is then one fixed batch among many)."""
    if epochs is None or epochs.length < 3:
        return None
    candidate = boundary_anomaly(sig, epochs.starts, offsets=(-1,))
    if candidate is None or candidate.epochs < FAINT_MIN_EPOCHS:
        return None
    agree = round(candidate.same_sign * candidate.epochs)
    windowed = (sig.run.facts.loss_window or 1) > 1
    by_sign = windowed and candidate.t >= FAINT_T_WINDOWED and \
        2 * binomial_tail(candidate.epochs, agree, 0.5) <= FAINT_SIGN_P_WINDOWED
    if candidate.same_sign < FAINT_SAME_SIGN or not (candidate.t >= FAINT_T or by_sign) \
            or not alone_at_its_step(sig, candidate):
        return None
    folded = sig.folded
    if folded is not None and folded.fine_correlation() >= 0.4:
        return None
    return candidate


def is_isolated(sig: RunSignals, anomaly: BoundaryAnomaly) -> bool:
    """A spike, not a level shift: the anomaly stands out from the points around it."""
    neighbours = np.concatenate([anomaly.idx - 3, anomaly.idx + 3])
    neighbours = neighbours[(neighbours >= 0) & (neighbours < sig.n)]
    rest = float(np.median(np.abs(sig.z[neighbours]))) if len(neighbours) else 0.0
    big_enough = abs(anomaly.median_z) >= 3.0 or anomaly.t >= 5
    return big_enough and abs(anomaly.median_z) >= 2.5 * rest and alone_at_its_step(sig, anomaly)


def alone_at_its_step(sig: RunSignals, anomaly: BoundaryAnomaly) -> bool:
    """The step before the anomaly does not share it: one short batch moves one logged loss, while data
    sorted by difficulty (no shuffling) moves the last few batches of every epoch together."""
    before = anomaly.idx - 1
    before = before[before >= 0]
    if not len(before):
        return True
    shared = float(np.median(sig.z[before])) * float(np.sign(anomaly.median_z))
    return shared < 0.5 * abs(anomaly.median_z)


@check("partial_last_batch", "problem", "spike at the last, smaller batch of every epoch")
def partial_last_batch(sig: RunSignals) -> Finding | None:
    """Fires when the loss departs from its trend at the same position next to every epoch boundary.

    The last batch of an epoch is smaller when the dataset size is not a multiple of the batch size;
    if the loss is not a per-sample mean (divided by the batch size twice, or summed) its magnitude
    changes with the batch size, and so does the gradient. Epochs come from the epoch series or the
    run facts; without them the period is inferred from recurring spikes. A recorded batch size
    settles it. False positives: a fixed bad sample that lands last in an unshuffled epoch (then the
    batch size at the spike is the full one), and an LR schedule stepping per epoch (then lr jumps too).
    """
    if sig.n < 24 or sig.run.facts.step_unit == "epoch" or sig.diverges:
        return None  # a diverging loss jumps everywhere, the epoch boundaries included
    epochs = sig.epochs
    inferred_period: int | None = None
    if epochs is not None and epochs.length >= 3:
        anomaly = boundary_anomaly(sig, epochs.starts)
    else:
        found = periodic_anomaly(sig)
        anomaly = found[1] if found else None
        inferred_period = found[0] if found else None
    faint = False
    if anomaly is None or anomaly.epochs < 2 or not anomaly.established or anomaly.offset not in (-2, -1, 0) \
            or not is_isolated(sig, anomaly):
        anomaly = _faint_last_step(sig, epochs) if inferred_period is None else None
        if anomaly is None:
            return None
        faint = True

    ratio = float(10 ** np.median(sig.residual[anomaly.idx])) if sig.log_space else None
    steps = [int(s) for s in sig.steps[anomaly.idx]]
    evidence: list[str] = []
    direction = "up" if anomaly.median_z > 0 else "down"
    where = {-1: "at the last step of the epoch",
             0: "at the first step after the epoch's last batch, where the update from that short, noisier"
                " batch lands"}.get(anomaly.offset, "at the epoch boundary")
    if inferred_period is not None:
        evidence.append(
            f"the log does not say where epochs end; the loss spikes {direction} every {inferred_period}"
            f" steps at a fixed phase (period inferred from {len(steps)} spikes) — if an epoch is"
            f" {inferred_period} steps, that is its last batch"
        )
    else:
        assert epochs is not None
        share = max(anomaly.consistency, anomaly.same_sign)
        evidence.append(
            f"in {round(share * anomaly.epochs)} of {anomaly.epochs} epochs the loss"
            f" jumps {direction} {where} (epochs of {fmt(epochs.length)} steps, from the {epochs.source})"
        )
    size = f"{fmt(ratio)}× the trend there" if ratio is not None else f"{fmt(anomaly.median_z)} robust stds"
    elsewhere = float(np.median(np.abs(np.delete(sig.z, anomaly.idx))))
    evidence.append(
        f"median size of the jump: {size} ({fmt(abs(anomaly.median_z))} robust stds; a typical step"
        f" departs {fmt(elsewhere)})"
    )

    if faint:
        evidence.append(
            "the jump is modest but sits at the last step in nearly every epoch; a log that averages the loss"
            " over steps or samples (Keras' running mean, a logging window) dilutes a short batch's loss"
        )
    confidence = 0.75 if inferred_period is None else 0.6
    if faint:
        confidence = 0.55
    confidence *= min(1.0, 0.5 + max(anomaly.consistency, anomaly.same_sign) / 2)
    batch = _batch_size_evidence(sig, anomaly, ratio)
    if batch is False:
        return None  # full batches at the spikes: not a partial batch (a bad sample or schedule)
    if not batch and anomaly.offset == 0 and anomaly.median_z < 0 and _epochs_ramp_up(sig):
        return None  # the fall at each epoch start of a re-exposure sawtooth, not a short batch's aftermath
    if batch:
        evidence.extend(batch)
        confidence = max(confidence, 0.92)
    else:
        facts = sig.run.facts
        if facts.dataset_size and facts.batch_size:
            remainder = facts.dataset_size % facts.batch_size
            if remainder == 0:
                return None
            evidence.append(
                f"dataset of {facts.dataset_size} samples in batches of {facts.batch_size}: the last"
                f" batch holds {remainder}"
            )
            confidence = max(confidence, 0.85)
        else:
            evidence.append("no batch-size series in this log: recording the actual batch size settles it")
    return Finding(
        id="partial_last_batch",
        severity="problem",
        confidence=round(confidence, 3),
        title="Loss spikes at the last (smaller) batch of every epoch",
        evidence=evidence,
        fix=for_framework(
            sig,
            cause="partial_last_batch",
            torch=[
                "# normalise the loss by the actual batch size exactly once:",
                "loss = criterion(output, target)  # reduction='mean', no extra `/ batch_size`",
                "# or drop the short last batch:",
                "loader = DataLoader(dataset, batch_size=B, shuffle=True, drop_last=True)",
                "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # limits the damage",
            ],
            hf=["TrainingArguments(..., dataloader_drop_last=True)"],
            lightning=["DataLoader(dataset, batch_size=B, shuffle=True, drop_last=True)"],
            keras=[
                "# a custom loss must not divide by the batch size itself: Keras already averages",
                "dataset = dataset.batch(B, drop_remainder=True)",
            ],
        ),
        steps=steps,
    )


def _batch_size_evidence(sig: RunSignals, anomaly: BoundaryAnomaly, ratio: float | None) -> list[str] | bool:
    """Evidence from a recorded batch size; False when it rules the cause out; [] when absent."""
    sizes = sig.batch_sizes
    if sizes is None:
        return []
    at_spike = sizes[anomaly.idx]
    nominal = sig.nominal_batch_size
    if not np.isfinite(at_spike).any() or not nominal:
        return []
    small = float(np.nanmedian(at_spike))
    if small >= nominal:
        return False
    lines = [f"the batch at those steps holds {fmt(small)} samples instead of {fmt(nominal)}"]
    if ratio is not None and ratio > 0 and ratio != 1:
        exponent = float(np.log(ratio) / np.log(nominal / small))
        rule = {1: "∝ 1/B: the loss is divided by the batch size once too often",
                2: "∝ 1/B²: the loss is divided by the batch size twice too often",
                -1: "∝ B: the loss is summed over the batch instead of averaged"}
        nearest = min(rule, key=lambda k: abs(k - exponent))
        if abs(nearest - exponent) < 0.35:
            lines.append(
                f"loss ratio {fmt(ratio)} vs batch ratio {fmt(nominal / small)}: the loss scales {rule[nearest]}"
            )
    return lines
