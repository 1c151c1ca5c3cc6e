"""One focused plot per finding: the view in which its evidence is easiest to see.

Causes that repeat with the epoch are shown folded by position within the epoch (every epoch on top
of each other, the finding's steps in its colour), so "the last step of every epoch" is one column of
marks. Causes tied to another series show that series next to the loss (lr jumps, gradient norm,
validation loss). Everything else zooms into the steps the finding names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...epochs import fold
from ...findings import Finding
from ...run import GRAD_NORM, LOSS, LR, VAL_LOSS, Run, Series
from ...signals import RunSignals
from .figures import (
    PERIODIC,
    RAW_COLOUR,
    TREND_COLOUR,
    VAL_COLOUR,
    finding_marks,
    plain_text,
    series_trace,
    use_log_axis,
)
from .plotdata import floats, ints

#: Causes whose evidence lives in a second series, drawn on a right-hand axis.
SECOND_SERIES = {"lr_schedule_jumps": LR, "lr_too_high": GRAD_NORM, "exploding_gradients": GRAD_NORM,
                 "overfitting": VAL_LOSS}
#: Folded points drawn at most (a random sample beyond that; the finding's own steps are always drawn).
MAX_FOLDED_POINTS = 2000


def _layout(title: str, log: bool, right: str | None = None, right_log: bool = False,
            x_title: str = "step") -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": plain_text(title), "font": {"size": 13}, "x": 0, "xanchor": "left"},
        "height": 300, "margin": {"l": 60, "r": 60 if right else 20, "t": 40, "b": 45},
        "hovermode": "closest", "showlegend": True,
        "legend": {"orientation": "h", "y": -0.25, "x": 0},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": "loss"}, "type": "log" if log else "linear"},
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "#ffffff",
    }
    if right:
        layout["yaxis2"] = {"title": {"text": plain_text(right)}, "overlaying": "y", "side": "right",
                            "type": "log" if right_log else "linear", "showgrid": False}
    return layout


def _window(loss: Series, finding: Finding) -> Series:
    """The part of the loss around the finding's steps (the last tenth of the run when it names none)."""
    steps = loss.steps
    if finding.steps:
        lo, hi = min(finding.steps), max(finding.steps)
        pad = max(20, int(0.1 * (hi - lo)), int(0.02 * (steps[-1] - steps[0])))
        lo, hi = lo - pad, hi + pad
    else:
        lo = int(steps[-1] - max(100, 0.1 * (steps[-1] - steps[0])))
        hi = int(steps[-1])
    keep = (steps >= lo) & (steps <= hi)
    return Series(steps[keep], loss.values[keep])


def _folded(sig: RunSignals, finding: Finding, colour: str, rank: int) -> dict[str, Any] | None:
    """The loss relative to its trend against the step within the epoch, all epochs overlaid."""
    folded = fold(sig)
    if folded is None:
        return None
    length = folded.info.length
    within = folded.position * length
    ratio = 10**folded.residual if sig.log_space else folded.residual
    rng = np.random.default_rng(0)
    pick = np.arange(sig.n) if sig.n <= MAX_FOLDED_POINTS else np.sort(rng.choice(sig.n, MAX_FOLDED_POINTS, False))
    name = "loss / trend" if sig.log_space else "loss − trend"
    data: list[dict[str, Any]] = [{
        "type": "scatter", "mode": "markers", "name": f"every epoch ({len(folded.complete)} complete)",
        "x": floats(within[pick]), "y": floats(ratio[pick]), "customdata": ints(sig.steps[pick]),
        "marker": {"color": RAW_COLOUR, "size": 4},
        "hovertemplate": f"step %{{customdata}} (%{{x:.0f}} into its epoch)<br>{name} %{{y:.4g}}<extra></extra>",
    }]
    bins = int(max(5, min(round(folded.points_per_epoch), 200)))
    prof = folded.profile(bins)
    with np.errstate(all="ignore"):
        centre = np.nanmedian(prof, axis=0) if prof.size else np.full(bins, np.nan)
    centre = 10**centre if sig.log_space else centre
    data.append({"type": "scatter", "mode": "lines", "name": "median over epochs",
                 "x": floats((np.arange(bins) + 0.5) / bins * length), "y": floats(centre),
                 "line": {"color": TREND_COLOUR, "width": 2}, "hoverinfo": "skip"})
    idx = np.flatnonzero(np.isin(sig.steps, np.asarray(finding.steps, dtype=np.int64)))
    if len(idx):
        label = f"#{rank} {finding.id}"
        data.append({"type": "scatter", "mode": "markers", "name": f"{label} steps",
                     "x": floats(within[idx]), "y": floats(ratio[idx]), "customdata": ints(sig.steps[idx]),
                     "marker": {"color": colour, "size": 8, "symbol": "circle-open", "line": {"width": 2}},
                     "hovertemplate": f"{plain_text(label)}<br>step %{{customdata}}<br>{name} %{{y:.4g}}"
                                      "<extra></extra>"})
    title = f"loss folded by position in the epoch ({len(folded.complete)} epochs of {length:g} steps, " \
            f"{folded.info.source})"
    layout = _layout(title, False, x_title="step within the epoch")
    layout["yaxis"]["title"]["text"] = name
    if sig.log_space:
        layout["yaxis"]["type"] = "log"
    return {"data": data, "layout": layout}


def focus_figure(run: Run, sig: RunSignals | None, finding: Finding, colour: str, rank: int) -> dict[str, Any] | None:
    """The focused plot of one finding, or None when the run has no loss to show."""
    loss = run.get(LOSS)
    if loss is None:
        return None
    if finding.id in PERIODIC and sig is not None:
        folded = _folded(sig, finding, colour, rank)
        if folded is not None:
            return folded
    second_name = SECOND_SERIES.get(finding.id)
    second = run.get(second_name) if second_name else None
    whole_run = finding.id in {"lr_schedule_jumps", "overfitting", "adam_near_convergence", "lr_too_high"}
    shown = loss if whole_run else _window(loss, finding)
    if not len(shown):
        shown = loss
    data = [series_trace(shown, "loss", RAW_COLOUR, "y", finding.steps, buckets=1200)]
    if sig is not None and sig.n >= 3:
        # the checks' own trend here: a card's "× the trend there" is read off this line
        keep = (sig.steps >= shown.steps[0]) & (sig.steps <= shown.steps[-1])
        trend = 10**sig.trend[keep] if sig.log_space else sig.trend[keep]
        data.append(series_trace(Series(sig.steps[keep], trend), "local trend", TREND_COLOUR, "y", width=2,
                                 buckets=600))
    right = None
    right_log = False
    if second is not None and second_name == VAL_LOSS:
        val = series_trace(second, "validation loss", VAL_COLOUR, "y", width=2)
        data.append(val)
    elif second is not None and second_name is not None:
        keep = (second.steps >= shown.steps[0]) & (second.steps <= shown.steps[-1])
        part = Series(second.steps[keep], second.values[keep])
        if len(part):
            right, right_log = second_name, use_log_axis(part)
            data.append(series_trace(part, second_name, "#555555", "y2", width=1.2, buckets=1200))
    if finding.steps:
        inside = [s for s in finding.steps if shown.steps[0] <= s <= shown.steps[-1]]
        data.append(finding_marks(Finding(finding.id, finding.severity, 0, "", steps=inside), rank, colour, loss))
    where = "the whole run" if shown is loss else f"steps {int(shown.steps[0])}–{int(shown.steps[-1])}"
    title = f"{finding.id}: {where}" + (f", with {right}" if right else "")
    return {"data": data, "layout": _layout(title, use_log_axis(shown), right, right_log)}
