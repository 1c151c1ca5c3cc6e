"""The main plot of a run: loss with its trend and validation, then lr, gradient norm and batch size.

All panels share one step axis, so zooming into a spike shows what the lr and the gradient norm did
there. Epoch starts are light vertical lines; each finding's steps are marked in the finding's colour.
The trend drawn is a rolling median over about 1/30 of the run: smooth enough to show the direction
through small-batch noise, while a one-step spike cannot move it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...epochs import infer_epochs
from ...findings import Finding
from ...run import BATCH_SIZE, GRAD_NORM, LOSS, LR, VAL_LOSS, Run, Series
from ...signals import EpochInfo, RunSignals, rolling_median
from .downsample import keep_steps, minmax_indices
from .plotdata import floats, ints, thin

#: Causes whose evidence is a pattern within the epoch (their focus plot folds the loss by epoch).
PERIODIC = frozenset({"partial_last_batch", "unshuffled_data", "epoch_sawtooth", "eval_mode_leak", "outlier_batches"})
#: Finding steps marked per finding on the main plot (more are thinned evenly).
MAX_MARKS = 3000
#: Epoch start lines drawn at most; beyond that every k-th start is drawn, or the plot turns grey.
MAX_EPOCH_LINES = 150
#: Panels below the loss: series name, axis title, whether a log axis suits it.
EXTRA_PANELS = ((LR, "learning rate", True), (GRAD_NORM, "gradient norm", True), (BATCH_SIZE, "batch size", False))

RAW_COLOUR = "rgba(90, 110, 140, 0.55)"
TREND_COLOUR = "#203050"
VAL_COLOUR = "#2ca02c"


def signals_of(run: Run) -> RunSignals | None:
    """The run's signals when it has finite loss points to analyse, else None."""
    loss = run.get(LOSS)
    if loss is None or not np.isfinite(loss.values).any():
        return None
    return RunSignals(run)


def trend_points(n: int) -> int:
    """Window of the drawn trend: about 1/30 of the run, so the eye sees the direction, not the noise."""
    return int(np.clip(n // 30, 7, 5001)) | 1


def display_trend(sig: RunSignals) -> Series:
    """A rolling median of the loss (in log space for positive losses), in loss units."""
    smooth = rolling_median(sig.y, trend_points(sig.n))
    return Series(sig.steps, 10**smooth if sig.log_space else smooth)


def use_log_axis(series: Series) -> bool:
    """A log axis when the values are positive and span more than a decade: losses usually do."""
    v = series.values[np.isfinite(series.values)]
    return bool(len(v) and np.all(v > 0) and v.max() / v.min() > 10)


def epoch_starts(sig: RunSignals | None) -> tuple[EpochInfo | None, str]:
    """Epoch starts the log gives, else those inferred from the loss's period, with how they were known."""
    if sig is None:
        return None, ""
    info = sig.epochs
    if info is not None:
        return info, f"epoch starts ({info.source})"
    if sig.run.get("epoch") is None and not sig.run.facts.steps_per_epoch and sig.run.facts.step_unit == "step":
        info = infer_epochs(sig)
        if info is not None:
            return info, "epoch starts (inferred from the loss's period)"
    return None, ""


def series_trace(series: Series, name: str, colour: str, axis: str, wanted: Sequence[int] = (),
                 width: float = 1.0, buckets: int = 2500) -> dict[str, Any]:
    """A line trace of `series`, min/max-downsampled, keeping the steps in `wanted`."""
    idx = keep_steps(series.steps, minmax_indices(series.values, buckets), wanted)
    return {
        "type": "scatter", "mode": "lines", "name": plain_text(name), "x": ints(series.steps[idx]),
        "y": floats(series.values[idx]), "yaxis": axis, "line": {"color": colour, "width": width},
        "hovertemplate": f"step %{{x}}<br>{plain_text(name)} %{{y:.5g}}<extra></extra>",
    }


def plain_text(text: str) -> str:
    """Plotly renders a small HTML subset in hover templates: keep tag and template characters literal."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("%{", "%&#123;").replace("{", "&#123;").replace("}", "&#125;"))


def value_at(series: Series, steps: Sequence[int]) -> tuple[list[int], np.ndarray]:
    """The series' value at (or nearest to) each step, for placing a mark on the curve."""
    arr = np.asarray(steps, dtype=np.int64)
    if not len(arr):
        return [], np.array([])
    pos = np.clip(np.searchsorted(series.steps, arr), 0, len(series.steps) - 1)
    prev = np.clip(pos - 1, 0, len(series.steps) - 1)
    nearer = np.abs(series.steps[prev] - arr) < np.abs(series.steps[pos] - arr)
    pos = np.where(nearer, prev, pos)
    values = series.values[pos].copy()
    bad = ~np.isfinite(values)
    if bad.any():  # a mark on a NaN step sits at the top of the finite range
        finite = series.values[np.isfinite(series.values)]
        values[bad] = finite.max() if len(finite) else 0.0
    return ints(arr), values


def finding_marks(finding: Finding, rank: int, colour: str, loss: Series, axis: str = "y") -> dict[str, Any]:
    steps, values = value_at(loss, thin(finding.steps, MAX_MARKS))
    label = f"#{rank} {finding.id}"
    return {
        "type": "scatter", "mode": "markers", "name": plain_text(label), "x": steps, "y": floats(values), "yaxis": axis,
        "marker": {"color": colour, "size": 9, "symbol": "circle-open", "line": {"width": 2, "color": colour}},
        "hovertemplate": f"{plain_text(label)}<br>step %{{x}}<br>loss %{{y:.5g}}<extra></extra>",
    }


def epoch_lines(info: EpochInfo, name: str, axis: str, first: int, last: int) -> dict[str, Any]:
    """One trace of vertical segments on a hidden 0..1 axis over the loss panel: cheap for any count."""
    starts = info.starts[(info.starts > first) & (info.starts <= last)]
    every = max(1, int(np.ceil(len(starts) / MAX_EPOCH_LINES)))
    starts = starts[::every]
    if every > 1:
        name = f"{name}, every {every}th"
    x: list[int | None] = []
    y: list[float | None] = []
    for s in ints(starts):
        x += [s, s, None]
        y += [0.0, 1.0, None]
    return {
        "type": "scatter", "mode": "lines", "name": name, "x": x, "y": y, "yaxis": axis,
        "line": {"color": "rgba(60, 60, 60, 0.18)", "width": 1}, "hoverinfo": "skip",
    }


def constant_range(series: Series) -> dict[str, Any]:
    """A constant series (a fixed lr, a fixed batch size) centred in its panel instead of Plotly's ±1."""
    v = series.values[np.isfinite(series.values)]
    if not len(v) or v.min() != v.max() or v[0] == 0:
        return {}
    return {"range": [float(v[0] - abs(v[0]) / 2), float(v[0] + abs(v[0]) / 2)], "type": "linear"}


def _panel_domains(count: int) -> list[tuple[float, float]]:
    """Vertical domains, loss first and tallest; the others share what is left."""
    if count == 1:
        return [(0.0, 1.0)]
    gap = 0.04
    small = min(0.2, 0.45 / (count - 1))
    domains = []
    top = 1.0
    heights = [1.0 - (count - 1) * (small + gap)] + [small] * (count - 1)
    for h in heights:
        domains.append((round(max(0.0, top - h), 4), round(top, 4)))
        top -= h + gap
    return domains


def main_figure(run: Run, findings: Sequence[Finding], colours: Sequence[str],
                sig: RunSignals | None) -> dict[str, Any]:
    """The main plot (Plotly figure as a dict)."""
    loss = run.get(LOSS)
    panels = [(name, title, log) for name, title, log in EXTRA_PANELS if run.get(name) is not None]
    domains = _panel_domains(1 + len(panels))
    bottom = f"y{len(panels) + 1}" if panels else "y"
    layout: dict[str, Any] = {
        "height": 460 + 130 * len(panels), "margin": {"l": 70, "r": 20, "t": 30, "b": 50},
        "hovermode": "closest", "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        "xaxis": {"title": {"text": "step"}, "anchor": bottom},
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "#ffffff",
    }
    data: list[dict[str, Any]] = []
    marked = [s for f in findings for s in thin(f.steps, MAX_MARKS)]
    if loss is not None:
        layout["yaxis"] = {"domain": domains[0], "title": {"text": "loss"},
                           "type": "log" if use_log_axis(loss) else "linear"}
        data.append(series_trace(loss, "loss", RAW_COLOUR, "y", marked))
        if sig is not None and sig.n >= 3:
            name = f"trend (rolling median of {trend_points(sig.n)} points)"
            data.append(series_trace(display_trend(sig), name, TREND_COLOUR, "y", width=2, buckets=1000))
        val = run.get(VAL_LOSS)
        if val is not None:
            trace = series_trace(val, "validation loss", VAL_COLOUR, "y", width=2)
            trace["mode"] = "lines+markers" if len(val) <= 200 else "lines"
            trace["marker"] = {"size": 5}
            data.append(trace)
        bad = ~np.isfinite(loss.values)
        if bad.any():
            steps, values = value_at(loss, ints(thin(list(loss.steps[bad]), MAX_MARKS)))
            data.append({"type": "scatter", "mode": "markers", "name": "NaN/inf loss", "x": steps,
                         "y": floats(values), "yaxis": "y",
                         "marker": {"symbol": "x", "size": 10, "color": "#000000"},
                         "hovertemplate": "step %{x}<br>loss is NaN or inf<extra></extra>"})
        # The top finding is drawn last, on top, where findings mark the same steps; the legend keeps rank order.
        ranked = list(enumerate(zip(findings, colours, strict=True), 1))
        for rank, (finding, colour) in reversed(ranked):
            if finding.steps:
                data.append(dict(finding_marks(finding, rank, colour, loss), legendrank=1000 + rank))
        info, name = epoch_starts(sig)
        # Inferred epochs are drawn only when a finding stands on a period: otherwise they are guesses.
        if info is not None and info.source == "inferred" and not any(f.id in PERIODIC for f in findings):
            info = None
        if info is not None:
            over = f"y{len(panels) + 2}"
            layout[f"yaxis{len(panels) + 2}"] = {"overlaying": "y", "range": [0, 1], "visible": False,
                                                 "fixedrange": True}
            data.append(epoch_lines(info, name, over, int(loss.steps[0]), int(loss.steps[-1])))
    for i, (name, title, log) in enumerate(panels, 2):
        series = run.series[name]
        layout[f"yaxis{i}"] = {"domain": domains[i - 1], "title": {"text": title},
                               "type": "log" if log and use_log_axis(series) else "linear"}
        layout[f"yaxis{i}"].update(constant_range(series))
        data.append(series_trace(series, name, "#555555", f"y{i}", width=1.2))
    return {"data": data, "layout": layout}


def overlay_figure(runs: Sequence[Run], labels: Sequence[str], colours: Sequence[str]) -> dict[str, Any]:
    """Several runs' losses on one axis: faint raw curves and bold trends, one colour per run."""
    data: list[dict[str, Any]] = []
    log = True
    for run, label, colour in zip(runs, labels, colours, strict=True):
        loss = run.get(LOSS)
        if loss is None:
            continue
        log = log and use_log_axis(loss)
        raw = series_trace(loss, f"{label} loss", colour, "y", buckets=1500)
        raw["opacity"] = 0.3
        raw["legendgroup"] = label
        raw["showlegend"] = False
        data.append(raw)
        sig = signals_of(run)
        if sig is not None and sig.n >= 3:
            line = series_trace(display_trend(sig), f"{label} trend", colour, "y", width=2.5, buckets=1000)
            line["legendgroup"] = label
            data.append(line)
    layout = {
        "height": 480, "margin": {"l": 70, "r": 20, "t": 30, "b": 50}, "hovermode": "closest",
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        "xaxis": {"title": {"text": "step"}}, "yaxis": {"title": {"text": "loss"}, "type": "log" if log else "linear"},
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "#ffffff",
    }
    return {"data": data, "layout": layout}
