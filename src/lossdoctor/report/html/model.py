"""The page model: everything the HTML page shows, as JSON-ready data.

The static report embeds this model; the live dashboard serves a fresh one as the run grows, and the
same script draws both. The diagnosis part is `report/json.py`'s contract, not a second derivation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...compare import Comparison
from ...findings import Diagnosis
from ...run import Run
from ...signals import fmt
from ..json import to_dict
from ..terminal import _VERDICT_TEXT
from .figures import main_figure, overlay_figure, signals_of
from .focus import focus_figure
from .plotdata import RUN_COLOURS, finding_colours


def calm_reasons(run: Run, diagnosis: Diagnosis) -> list[str]:
    """Why a healthy run is fine, in numbers from the run: the trend, the noise level, no NaN."""
    sig = signals_of(run)
    if sig is None or sig.n < 3:
        return []
    reasons: list[str] = []
    medians, _ = sig.segments(10)
    start, end = (10**medians[0], 10**medians[-1]) if sig.log_space else (medians[0], medians[-1])
    reasons.append(f"the loss goes from {fmt(float(start))} (median of the first tenth) to {fmt(float(end))}"
                   f" (last tenth) over {sig.n} logged points")
    if sig.log_space:
        reasons.append(f"step-to-step scatter around the trend is about ±{100 * np.log(10) * sig.step_noise:.1f}%,"
                       " the ordinary noise of minibatch training")
    else:
        reasons.append(f"step-to-step scatter around the trend is about ±{fmt(sig.step_noise)} in loss units")
    if not len(sig.nonfinite_steps):
        reasons.append("no NaN or inf in the loss")
    if not any(f.severity == "problem" for f in diagnosis.findings):
        benign = [f.id for f in diagnosis.findings if f.severity == "benign" and f.id != "inconclusive"]
        if benign:
            reasons.append("the fluctuation that is there has a harmless explanation: " + ", ".join(benign))
        else:
            reasons.append("no known cause of fluctuation found: every check passed")
    return reasons


def run_model(run: Run, diagnosis: Diagnosis, first_seen: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The model of one run's page: summary, verdict, main plot and one card per finding."""
    sig = signals_of(run)
    colours = finding_colours(diagnosis.findings)
    contract = to_dict(diagnosis)
    cards = []
    for rank, (finding, data, colour) in enumerate(zip(diagnosis.findings, contract["findings"], colours,
                                                       strict=True), 1):
        card = dict(data)
        card.update(rank=rank, colour=colour, focus=focus_figure(run, sig, finding, colour, rank))
        if first_seen is not None and finding.id in first_seen:
            card["first_seen"] = int(first_seen[finding.id])
        cards.append(card)
    loss = run.get("loss")
    return {
        "source": contract["source"],
        "version": contract["lossdoctor_version"],
        "verdict": diagnosis.verdict,
        "verdict_text": _VERDICT_TEXT[diagnosis.verdict],
        "last_step": int(loss.steps[-1]) if loss is not None else None,
        "calm": calm_reasons(run, diagnosis) if diagnosis.verdict == "healthy" else [],
        "notes": list(diagnosis.notes),
        "main": main_figure(run, diagnosis.findings, colours, sig),
        "cards": cards,
    }


def single_page(run: Run, diagnosis: Diagnosis) -> dict[str, Any]:
    return {"kind": "single", "title": diagnosis.path or "training run", "run": run_model(run, diagnosis)}


def compare_page(runs: Sequence[Run], diagnoses: Sequence[Diagnosis], comparison: Comparison) -> dict[str, Any]:
    """Overlaid curves, the comparison's table and conclusion, then each run's own page below."""
    labels = comparison.labels
    colours = [RUN_COLOURS[i % len(RUN_COLOURS)] for i in range(len(runs))]
    rows = []
    for label, value, f, d, colour in zip(labels, comparison.values, comparison.fluctuations, diagnoses, colours,
                                          strict=True):
        rows.append({
            "label": label, "path": d.path, "colour": colour, "value": None if value is None else str(value),
            "scatter": (f"±{f.percent:.1f}%" if f.log_space else "n/a") if f.measured else f"— ({f.points} points)",
            "absolute": f"±{fmt(f.absolute)}" if f.measured else "—",
            "level": fmt(f.level) if f.measured else "—",
            "climb": ((f"×{f.climb:.2f}" if f.climb < 1e4 else f"×{fmt(f.climb)}") if f.log_space else fmt(f.climb))
            if f.measured else "—",
            "verdict": d.verdict, "top": d.primary.id if d.primary else None,
        })
    named = [f"{label} ({comparison.parameter}={v})" if comparison.parameter and v is not None else label
             for label, v in zip(labels, comparison.values, strict=True)]
    return {
        "kind": "compare",
        "title": f"{len(runs)} runs compared",
        "comparison": {"parameter": comparison.parameter, "conclusion": comparison.conclusion,
                       "evidence": list(comparison.evidence), "rows": rows},
        "overlay": overlay_figure(runs, named, colours),
        "runs": [dict(run_model(r, d), label=label) for r, d, label in zip(runs, diagnoses, labels, strict=True)],
    }
