"""Compare runs of one model that differ in one hyper-parameter: does the fluctuation follow it?

Seed 000 (a GRU whose swings grow with the LR) and seed 001 (batch-8 noise that looks the same at three
LRs) are the two answers people need. Each run's fluctuation is measured from its own loss series, the
differing hyper-parameter is read from the series and facts (never from names or paths), and the
conclusion is drawn only when the change across runs is large against each run's own scatter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .findings import Diagnosis
from .run import Run
from .signals import RunSignals, fmt, robust_std

#: A change in amplitude must exceed this many standard errors (from each run's own quarters) to count.
MIN_Z = 3.0
#: Below this many standard errors the amplitude is "the same at every value".
SAME_Z = 2.0
#: A significant change smaller than this factor is real but too small to see on a plot: long runs make
#: tiny differences significant, and nobody asks why their loss fluctuates 10% more.
MIN_RATIO = 1.25
#: Runs logged from their first step whose initial losses differ by more than this factor are taken to be
#: different tasks or loss scales: before any update the LR cannot have moved the loss yet.
START_RATIO = 2.5
#: Finite loss points a run needs for its fluctuation to be measured.
MIN_MEASURED = 8
#: Hyper-parameters the logs can carry, in the order a sweep most often varies them.
KNOWN_PARAMS = ("lr", "batch_size", "optimizer")
#: Findings whose presence at the highest value is evidence that the parameter drives the fluctuation.
PARAM_FINDINGS = ("lr_too_high", "epoch_sawtooth", "exploding_gradients", "numerical_instability")

Value = float | str


@dataclass
class Fluctuation:
    """How much one run's loss fluctuates, measured on the second half (after the initial descent).

    `relative` is the robust step-to-step scatter of log10(loss) (decades), `absolute` the same in loss
    units; `*_se` are their relative standard errors from the spread over the half's four quarters.
    """

    relative: float
    relative_se: float
    absolute: float
    absolute_se: float
    level: float
    start: float
    #: Standard error of ln(start) from the first points' own spread: a tiny batch's first losses scatter,
    #: and a large LR moves the loss within them.
    start_se: float
    low: float
    high: float
    climb: float
    spikes_per_1k: float
    log_space: bool
    points: int
    first_step: int
    #: Steps averaged into each logged loss (HF logging_steps): it shrinks the scatter by its square root.
    window: int

    @property
    def measured(self) -> bool:
        """Whether the run had enough finite loss points to measure (a run that diverged at once has not)."""
        return self.points >= MIN_MEASURED

    @property
    def percent(self) -> float:
        """The relative scatter as ±% of the loss (the std of ln(loss): 0.1 is about ±10%)."""
        return 100 * self.amplitude if self.log_space else float("nan")

    @property
    def amplitude(self) -> float:
        """The number compared across runs: std of ln(loss) step to step, else the scatter in loss units.

        Natural log so that the value reads as a fraction of the loss and ratios of amplitudes are the
        ratios the conclusion quotes.
        """
        return math.log(10) * self.relative if self.log_space else self.absolute


@dataclass
class ParamChoice:
    """Which hyper-parameter differs between the runs, its value per run, and how that is known."""

    name: str | None
    values: list[Value | None]
    source: str
    also_differ: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    """The answer for several runs: the parameter, each run's amplitude, and what follows."""

    parameter: str | None
    values: list[Value | None]
    amplitude: list[float]
    conclusion: str
    evidence: list[str]
    fluctuations: list[Fluctuation]
    labels: list[str]


def _quarter_se(x: np.ndarray, scale: float) -> float:
    """Relative standard error of a step-noise estimate from its spread over four quarters."""
    quarters = [q for q in np.array_split(x, 4) if len(q) >= 4]
    if len(quarters) < 2 or scale <= 0:
        return 1.0
    per = np.array([robust_std(np.diff(q)) / math.sqrt(2) for q in quarters])
    per = np.maximum(per, scale * 1e-3)
    return float(np.std(np.log(per), ddof=1) / math.sqrt(len(per)))


def _start_se(first: np.ndarray) -> float:
    first = first[first > 0]
    if len(first) < 2:
        return 0.0
    return 1.25 * robust_std(np.log(first)) / math.sqrt(len(first))


def measure(run: Run) -> Fluctuation:
    """The fluctuation of one run from its own loss series (see `Fluctuation`)."""
    sig = RunSignals(run)
    if sig.n < MIN_MEASURED:
        nan = float("nan")  # a run that diverged or stopped at once: compared runs leave it out
        return Fluctuation(nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, sig.log_space, sig.n,
                           int(sig.steps[0]) if sig.n else 0, max(1, int(run.facts.loss_window)))
    half_y = sig.y[sig.n // 2 :]
    half_v = sig.values[sig.n // 2 :]
    relative = robust_std(np.diff(half_y)) / math.sqrt(2)
    absolute = robust_std(np.diff(half_v)) / math.sqrt(2)
    medians, _ = sig.segments(10)
    tail = float(np.median(sig.y[-max(3, int(sig.n * 0.15)) :]))
    climb = max(0.0, tail - float(np.min(medians)))
    return Fluctuation(
        relative=relative,
        relative_se=_quarter_se(half_y, relative),
        absolute=absolute,
        absolute_se=_quarter_se(half_v, absolute),
        level=float(np.median(half_v)),
        start=float(np.median(sig.values[:5])),
        start_se=_start_se(sig.values[:5]),
        low=float(np.percentile(sig.values, 5)),
        high=float(np.percentile(sig.values, 95)),
        climb=10**climb if sig.log_space else climb,
        spikes_per_1k=1000 * len(sig.spike_idx) / sig.n,
        log_space=sig.log_space,
        points=sig.n,
        first_step=int(sig.steps[0]),
        window=max(1, int(run.facts.loss_window)),
    )


# -- which hyper-parameter differs -----------------------------------------------------------------


def _lr_of(run: Run) -> tuple[float | None, str]:
    """The configured LR: the peak of the `lr` series (a schedule warms up to it and decays from it)."""
    found = run.get("lr")
    if found is None:
        return (run.facts.learning_rate, "lr stated in the log's header") if run.facts.learning_rate else (None, "")
    values = found.finite().values
    values = values[values > 0]
    if not len(values):
        return None, ""
    peak, typical = float(values.max()), float(np.median(values))
    how = "peak of the logged lr series" if peak > 1.05 * typical else "logged lr series (constant)"
    return peak, how


def _batch_of(run: Run) -> tuple[float | None, str]:
    found = run.get("batch_size")
    if found is not None and np.isfinite(found.values).any():
        return float(np.nanmax(found.values)), "logged batch_size series"
    if run.facts.batch_size:
        return float(run.facts.batch_size), "batch size in the log's metadata"
    return None, ""


def _optimizer_of(run: Run) -> tuple[str | None, str]:
    return (run.facts.optimizer, "optimizer named in the log") if run.facts.optimizer else (None, "")


_READERS = {"lr": _lr_of, "batch_size": _batch_of, "optimizer": _optimizer_of}


def _differs(values: Sequence[Value | None]) -> bool:
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return False
    if all(isinstance(v, float) for v in known):
        nums = np.array(known, dtype=float)
        return bool(np.max(nums) > 1.01 * np.min(nums)) if np.all(nums > 0) else bool(np.ptp(nums) > 0)
    return len({str(v) for v in known}) > 1


def parse_param(text: str, count: int) -> tuple[str, list[Value]]:
    """`lr=1e-3,1e-2,5e-2` -> ("lr", [0.001, 0.01, 0.05]); one value per run, in order."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        raise ValueError(f"--param {text!r}: expected NAME=V1,V2,... (one value per run)")
    raw = [v.strip() for v in rest.split(",")]
    if len(raw) != count or any(not v for v in raw):
        raise ValueError(f"--param {text!r}: {len(raw)} values for {count} runs; give one value per run, in order")
    values: list[Value] = []
    for v in raw:
        try:
            values.append(float(v))
        except ValueError:
            values.append(v)
    return name, values


def infer_parameter(runs: Sequence[Run], given: tuple[str, list[Value]] | None = None) -> ParamChoice:
    """The parameter that differs, from the logs; `given` (from --param) fills in what they lack."""
    found: dict[str, tuple[list[Value | None], str]] = {}
    for name in KNOWN_PARAMS:
        pairs = [_READERS[name](run) for run in runs]
        values: list[Value | None] = [v for v, _ in pairs]
        how = next((h for v, h in pairs if v is not None), "")
        found[name] = (values, how)
    differing = [name for name in KNOWN_PARAMS if _differs(found[name][0])]
    if given is not None:
        name, values = given
        logged = found.get(name)
        source = "given with --param"
        if logged is not None and all(v is not None for v in logged[0]):
            agree = all(_same(a, b) for a, b in zip(logged[0], values, strict=True))
            source += " (matches the logs)" if agree else f" (the logs say {_show(logged[0])}; using --param)"
        return ParamChoice(name, list(values), source, [d for d in differing if d != name])
    if not differing:
        return ParamChoice(None, [None] * len(runs), "the logs do not show which hyper-parameter differs")
    name = differing[0]
    values, how = found[name]
    complete = all(v is not None for v in values)
    source = f"from the {how} of each run" if complete else f"from the {how}; some runs do not log it"
    return ParamChoice(name, values, source, differing[1:])


def _same(a: Value | None, b: Value | None) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 0.01 * max(abs(a), abs(b))
    return str(a) == str(b)


def _show(values: Sequence[Value | None]) -> str:
    return ", ".join("?" if v is None else fmt(v) if isinstance(v, float) else str(v) for v in values)


# -- relating the fluctuation to the parameter -----------------------------------------------------


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Rank correlation (ties get their mean rank): does y rise whenever x does?"""
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    if np.std(rx) == 0 or np.std(ry) == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(a: np.ndarray) -> np.ndarray:
    order = np.argsort(a, kind="stable")
    ranks = np.empty(len(a))
    ranks[order] = np.arange(len(a), dtype=float)
    for v in np.unique(a):
        ranks[a == v] = ranks[a == v].mean()
    return ranks


def _not_comparable(flucs: Sequence[Fluctuation], labels: Sequence[str]) -> list[str]:
    """Pairs of runs that look like different tasks or loss scales."""
    out = []
    ref = flucs[0]
    for f, label in zip(flucs[1:], labels[1:], strict=True):
        if ref.log_space != f.log_space:
            out.append(f"{labels[0]} and {label}: one loss takes negative values and the other does not")
            continue
        if f.window != ref.window:
            out.append(
                f"{labels[0]} and {label}: each logged loss averages {ref.window} vs {f.window} steps, which"
                " changes the scatter by itself; log both the same way"
            )
            continue
        # Two logs from the first step compare their losses before any update: the same task starts at the
        # same level whatever the LR does next (a slow LR and a fast one may then never share a range).
        from_start = max(ref.first_step, f.first_step) <= 1 and ref.start > 0 and f.start > 0
        if from_start:
            ratio = max(ref.start, f.start) / min(ref.start, f.start)
            allowance = 3 * math.hypot(ref.start_se, f.start_se)  # the first points' own scatter
            if math.log(ratio) - allowance > math.log(START_RATIO):
                out.append(
                    f"{labels[0]} and {label}: before training the loss is {fmt(ref.start)} vs {fmt(f.start)}"
                    f" (×{fmt(ratio)}), which no learning rate explains: a different task or loss scale"
                )
        elif f.low > ref.high or ref.low > f.high:
            out.append(
                f"{labels[0]} and {label}: the loss ranges never overlap ({fmt(ref.low)}–{fmt(ref.high)} vs"
                f" {fmt(f.low)}–{fmt(f.high)}): a different task or loss scale"
            )
    return out


def _significance(lo: Fluctuation, hi: Fluctuation, absolute: bool = False) -> tuple[float, float]:
    """(ratio hi/lo, how many combined standard errors its log is from 0)."""
    a, b = (lo.absolute, hi.absolute) if absolute else (lo.relative, hi.relative)
    sa, sb = (lo.absolute_se, hi.absolute_se) if absolute else (lo.relative_se, hi.relative_se)
    if a <= 0 or b <= 0:
        return 1.0, 0.0
    ratio = b / a
    se = math.sqrt(sa**2 + sb**2) or 1e-9
    return ratio, math.log(ratio) / se


def _trend(numeric: bool, rho: float, count: int, ratio: float, z: float, abs_ratio: float, abs_z: float) -> str:
    """grows / same / shrinks / unclear (differs / same for a categorical parameter such as the optimizer),
    from the ratio, its significance and the rank agreement.

    "same" also covers a relative change that vanishes in loss units: the parameter moved the level,
    and the same absolute scatter on a lower loss reads as a larger relative one.
    """
    if not numeric:
        return "differs" if z >= MIN_Z and ratio >= MIN_RATIO and abs_z >= SAME_Z else "same"
    monotone = rho >= (0.999 if count <= 3 else 0.8)
    if monotone and z >= MIN_Z and ratio >= MIN_RATIO and abs_z >= SAME_Z and abs_ratio > 1:
        return "grows"
    relative_same = abs(z) < SAME_Z or 1 / MIN_RATIO < ratio < MIN_RATIO
    # the same in loss units: not significant, and not a factor a plot would show either (a run that climbs
    # has a wide scatter of its own, which can hide ×10)
    absolute_same = abs(abs_z) < SAME_Z and 1 / (2 * MIN_RATIO) < abs_ratio < 2 * MIN_RATIO
    if relative_same or absolute_same:
        return "same"
    if ratio <= 1 / MIN_RATIO and z <= -MIN_Z and rho <= -(0.999 if count <= 3 else 0.8):
        return "shrinks"
    return "unclear"


def _times(ratio: float) -> str:
    """A ratio as `×1.46`, or in scientific notation once a run has blown up (`×7.41e+16`)."""
    return f"{ratio:.2f}" if abs(ratio) < 1e4 else fmt(ratio)


def _is_batch_size(name: str) -> bool:
    return name.lower().replace("-", "_") in {"batch_size", "batch", "bs", "per_device_train_batch_size",
                                              "train_batch_size", "batchsize"}


def _top(d: Diagnosis) -> str:
    return d.primary.id if d.primary is not None else "no finding"


def compare(
    runs: Sequence[Run],
    diagnoses: Sequence[Diagnosis],
    given: tuple[str, list[Value]] | None = None,
    labels: Sequence[str] | None = None,
) -> Comparison:
    """Relate the fluctuation of `runs` to the hyper-parameter that differs between them."""
    labels = list(labels) if labels is not None else [f"run {i + 1}" for i in range(len(runs))]
    flucs = [measure(r) for r in runs]
    choice = infer_parameter(runs, given)
    amp = [round(f.amplitude, 6) for f in flucs]  # NaN where a run could not be measured
    evidence = [f"parameter: {choice.name or 'unknown'} — {choice.source}"]
    if choice.also_differ:
        evidence.append(f"these also differ between the runs, so the effect cannot be pinned on one: "
                        f"{', '.join(choice.also_differ)}")
    evidence += [_describe(label, f) for label, f in zip(labels, flucs, strict=True)]
    result = Comparison(choice.name, choice.values, amp, "", evidence, flucs, labels)
    keep = [i for i, f in enumerate(flucs) if f.measured]
    for i in sorted(set(range(len(flucs))) - set(keep)):
        evidence.append(f"{labels[i]}: only {flucs[i].points} finite loss points (it diverged or stopped at once):"
                        " left out of the comparison; see its own diagnosis")
    if len(keep) < 2:
        result.conclusion = "fewer than two runs have enough finite loss points to compare their fluctuation"
        return result
    if len(keep) < len(flucs):  # compare the measurable runs among themselves
        runs, diagnoses = [runs[i] for i in keep], [diagnoses[i] for i in keep]
        flucs, labels = [flucs[i] for i in keep], [labels[i] for i in keep]
        choice = ParamChoice(choice.name, [choice.values[i] for i in keep], choice.source, choice.also_differ)
    clash = _not_comparable(flucs, labels)
    if clash:
        result.conclusion = "these runs are not comparable: " + "; ".join(clash)
        return result
    if choice.name is None or any(v is None for v in choice.values):
        result.conclusion = (
            "the logs do not carry the hyper-parameter that differs between these runs; pass it with"
            " --param NAME=V1,V2,... (one value per run, in order) to relate the fluctuation to it"
        )
        return result
    numeric = all(isinstance(v, float) for v in choice.values)
    if numeric:
        order = np.argsort(np.asarray(choice.values, float), kind="stable")
    else:
        order = np.argsort([f.relative for f in flucs], kind="stable")
    lo_i, hi_i = int(order[0]), int(order[-1])
    lo, hi = flucs[lo_i], flucs[hi_i]
    ratio, z = _significance(lo, hi)
    abs_ratio, abs_z = _significance(lo, hi, absolute=True)
    rho = spearman([float(v) for v in choice.values], [f.relative for f in flucs]) if numeric else float("nan")
    name = choice.name
    lo_v, hi_v = _show([choice.values[lo_i]]), _show([choice.values[hi_i]])
    scatter = math.sqrt(lo.relative_se**2 + hi.relative_se**2)
    evidence.append(
        f"amplitude at {name}={hi_v} is ×{_times(ratio)} that at {name}={lo_v}"
        + (f"; rank agreement with {name} (Spearman) {rho:.2f}" if numeric else "")
        + f"; each run's own scatter of this estimate is ±{100 * scatter:.0f}% (z = {z:.1f})"
    )
    trend = _trend(numeric, rho, len(runs), ratio, z, abs_ratio, abs_z)
    too_high_at_top = _too_high_at_the_top(diagnoses[hi_i], diagnoses[lo_i], labels[hi_i], name, hi_v, lo_v, hi, lo)
    hi_findings = [f for f in diagnoses[hi_i].findings if f.id in PARAM_FINDINGS]
    lo_ids = {f.id for f in diagnoses[lo_i].findings}
    if trend == "grows":
        result.conclusion = (
            f"the fluctuation grows with {name}: ×{_times(ratio)} from {name}={lo_v} to {name}={hi_v}, in the order"
            f" of {name}, {z:.1f} standard errors beyond each run's own scatter — {name} is a cause"
        )
        for f in hi_findings:
            tag = "" if f.id in lo_ids else f" (absent at {name}={lo_v})"
            evidence.append(f"{labels[hi_i]} ({name}={hi_v}) shows {f.id}{tag}: " + "; ".join(f.evidence[:2]))
        if not hi_findings:
            evidence.append(f"{labels[hi_i]} has no {'/'.join(PARAM_FINDINGS[:2])} finding: the larger"
                            " fluctuation is still within what its own checks call normal")
    elif trend == "same":
        tops = sorted({_top(d) for d in diagnoses})
        if abs(abs_z) < SAME_Z <= abs(z) and not 1 / MIN_RATIO < ratio < MIN_RATIO:  # the same in loss units
            # the relative scatter differs, the scatter in loss units does not: the level moved, not the swings
            result.conclusion = (
                f"in loss units the fluctuation is about the same at every {name} (×{_times(abs_ratio)} from"
                f" {name}={lo_v} to {name}={hi_v}, within each run's own scatter); relative to the loss it is"
                f" ×{_times(ratio)}, because the loss level differs ({fmt(lo.level)} vs {fmt(hi.level)})"
                f" — {name} is not what makes the loss swing"
            )
        else:
            result.conclusion = (
                f"the fluctuation is about the same at every {name} (×{_times(ratio)} from {name}={lo_v} to"
                f" {name}={hi_v}) — {name} is not the cause"
            )
        result.conclusion += f"; every run's top finding is {tops[0]}" if len(tops) == 1 else ""
    elif trend == "differs":
        result.conclusion = (
            f"the fluctuation depends on {name}: ×{_times(ratio)} larger with {name}={hi_v} than with {name}={lo_v},"
            f" {z:.1f} standard errors beyond each run's own scatter"
        )
    elif trend == "shrinks" and too_high_at_top:
        # the run at the top failed: its scatter is small next to a loss that never came down
        result.conclusion = (
            f"relative to the loss the fluctuation shrinks as {name} grows (×{_times(ratio)} from {name}={lo_v} to"
            f" {name}={hi_v}) and in loss units it is ×{_times(abs_ratio)}"
        )
    elif trend == "shrinks":
        result.conclusion = (
            f"the fluctuation shrinks as {name} grows: ×{_times(ratio)} from {name}={lo_v} to {name}={hi_v}, in the"
            f" order of {name}, {abs(z):.1f} standard errors beyond each run's own scatter — a small {name} makes it"
            " larger"
        )
        lo_value, hi_value = choice.values[lo_i], choice.values[hi_i]
        if _is_batch_size(name) and isinstance(lo_value, float) and isinstance(hi_value, float) and lo_value > 0:
            expected = math.sqrt(lo_value / hi_value)
            result.conclusion += (
                f"; batch noise shrinks as 1/sqrt(batch size), which predicts ×{_times(expected)}: the small batch"
                " is the cause (small_batch_noise: benign while the trend and validation improve)"
            )
    else:
        result.conclusion = (
            f"the fluctuation changes with {name} (×{_times(ratio)} relative to the loss, ×{_times(abs_ratio)} in loss"
            f" units) but not consistently or not clearly beyond each run's own scatter (z = {z:.1f}, rank"
            f" agreement {rho:.2f}): these runs do not settle whether {name} is the cause"
        )
    if trend != "grows":
        result.conclusion += too_high_at_top
        if result.conclusion.endswith("whatever the scatter says") and numeric:
            safe = [v for v, d in zip(choice.values, diagnoses, strict=True) if not _too_high(d)]
            if safe:
                largest = _show([max(safe, key=float)])
                result.conclusion += f"; of these runs, {name}={largest} is the largest without it"
    own = _own_problems(diagnoses, labels, choice.values, name)
    if own:
        result.conclusion += "; " + "; ".join(own)
    return result


def _too_high(d: Diagnosis) -> bool:
    return any(f.id == "lr_too_high" and f.severity == "problem" for f in d.findings)


def _too_high_at_the_top(top: Diagnosis, bottom: Diagnosis, label: str, name: str, hi_v: str, lo_v: str,
                         hi: Fluctuation, lo: Fluctuation) -> str:
    """The run at the largest value is too high by its own diagnosis though its swings are no larger: an LR
    that stops the loss from settling (a bounce between walls, dead units) shows in the level, not the scatter."""
    finding = top.primary
    if finding is None or finding.id != "lr_too_high" or finding.severity != "problem" or _too_high(bottom):
        return ""
    level = f", its loss stays at {fmt(hi.level)} against {fmt(lo.level)} at {name}={lo_v}" if lo.level > 0 else ""
    return (f"; but {label} ({name}={hi_v}) is too high by its own diagnosis (lr_too_high){level}: there {name}"
            " keeps the loss from settling, whatever the scatter says")


def _own_problems(diagnoses: Sequence[Diagnosis], labels: Sequence[str], values: Sequence[Value | None],
                  name: str) -> list[str]:
    """Runs whose first finding is a problem that no value of the parameter produces (unshuffled data, bad
    samples, a short last batch): the comparison must not hide it behind the parameter's trend."""
    out = []
    for d, label, value in zip(diagnoses, labels, values, strict=True):
        top = d.primary
        if top is not None and top.severity == "problem" and top.id not in PARAM_FINDINGS:
            out.append(f"{label} ({name}={_show([value])}) also has a problem of its own: {top.id}")
    return out


def _describe(label: str, f: Fluctuation) -> str:
    if not f.measured:
        return f"{label}: {f.points} finite loss points, too few to measure"
    scatter = f"±{f.percent:.1f}% of the loss from step to step" if f.log_space else f"±{fmt(f.absolute)}"
    parts = [f"{label}: {scatter} (±{fmt(f.absolute)} in loss units) over the second half, loss ~{fmt(f.level)}"]
    if f.climb > 1.0 and f.log_space:
        parts.append(f"ends ×{_times(f.climb)} above its best level")
    if f.spikes_per_1k > 0:
        parts.append(f"{f.spikes_per_1k:.1f} spikes per 1000 points")
    return ", ".join(parts)


__all__ = ["Comparison", "Fluctuation", "ParamChoice", "compare", "infer_parameter", "measure", "parse_param",
           "spearman"]
