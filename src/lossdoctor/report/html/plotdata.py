"""Numbers for the page: compact JSON-ready lists and the colours that tie a finding to its marks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...findings import Finding

#: Colours for problem findings (warm) and benign ones (cool), in rank order.
PROBLEM_COLOURS = ("#d62728", "#ff7f0e", "#e377c2", "#8c564b", "#bcbd22", "#9e0142")
BENIGN_COLOURS = ("#1f77b4", "#17becf", "#2ca02c", "#9467bd", "#3288bd", "#66a61e")
#: Colours of runs overlaid in a comparison.
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def floats(values: np.ndarray) -> list[float | None]:
    """Six significant digits (what a plot can show) and null for NaN/inf, which JSON cannot hold."""
    out: list[float | None] = []
    for v in np.asarray(values, dtype=np.float64).tolist():
        out.append(float(f"{v:.6g}") if np.isfinite(v) else None)
    return out


def ints(values: np.ndarray | Sequence[int]) -> list[int]:
    return [int(v) for v in np.asarray(values, dtype=np.int64).tolist()]


def finding_colours(findings: Sequence[Finding]) -> list[str]:
    """One colour per finding: problems take warm colours, benign findings cool ones, by rank."""
    colours: list[str] = []
    problems = benign = 0
    for f in findings:
        if f.severity == "problem":
            colours.append(PROBLEM_COLOURS[problems % len(PROBLEM_COLOURS)])
            problems += 1
        else:
            colours.append(BENIGN_COLOURS[benign % len(BENIGN_COLOURS)])
            benign += 1
    return colours


def thin(steps: Sequence[int], limit: int) -> list[int]:
    """At most `limit` of `steps`, evenly spread: a finding naming 100,000 steps must not bloat the page."""
    if len(steps) <= limit:
        return list(steps)
    pick = np.linspace(0, len(steps) - 1, limit).round().astype(int)
    return [steps[i] for i in np.unique(pick)]
