"""PNG of the main plot (matplotlib, offline), for pasting into an issue or a forum question.

It draws what the HTML report's main plot draws, from the same figure data: the loss with its trend,
validation loss, finding marks in their colours, epoch starts, and the lr / gradient-norm / batch-size
panels; the title carries the verdict and the top finding.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..compare import Comparison
from ..findings import Diagnosis
from ..run import Run
from .extras import require_matplotlib
from .html.figures import main_figure, overlay_figure, signals_of
from .html.plotdata import RUN_COLOURS, finding_colours


def _colour(trace: dict[str, Any]) -> str:
    line = trace.get("line") or {}
    marker = trace.get("marker") or {}
    colour = line.get("color") or marker.get("color") or "#444444"
    if colour.startswith("rgba("):  # matplotlib wants a tuple for rgba()
        r, g, b, a = (float(v) for v in colour[5:-1].split(","))
        return (r / 255, g / 255, b / 255, a)  # type: ignore[return-value]
    return colour


def _draw(fig: dict[str, Any], title: str, path: Path) -> None:
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layout = fig["layout"]
    panels = sorted(k for k, v in layout.items() if k.startswith("yaxis") and "domain" in v) or ["yaxis"]
    heights = [3] + [1] * (len(panels) - 1)
    figure, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(12, 4 + 1.3 * (len(panels) - 1)),
                                gridspec_kw={"height_ratios": heights}, squeeze=False)
    by_name = {("y" + name[5:]): ax for name, ax in zip(panels, axes[:, 0], strict=True)}
    for name, ax in zip(panels, axes[:, 0], strict=True):
        spec = layout.get(name, {})
        ax.set_ylabel(spec.get("title", {}).get("text", ""))
        if spec.get("type") == "log":
            ax.set_yscale("log")
        ax.grid(alpha=0.25)
    loss_ax = by_name["y"]
    for trace in fig["data"]:
        axis = trace.get("yaxis", "y")
        x = [v for v in trace["x"]]
        y = trace["y"]
        if axis not in by_name:  # the hidden 0..1 axis of epoch starts: vertical lines on the loss panel
            for s in [v for v in x if v is not None][::2]:
                loss_ax.axvline(s, color="#999999", alpha=0.25, linewidth=0.6)
            continue
        ax = by_name[axis]
        xs = [a for a, b in zip(x, y, strict=True) if b is not None]
        ys = [b for b in y if b is not None]
        label = html.unescape(trace.get("name", ""))
        if trace.get("mode") == "markers":
            symbol = (trace.get("marker") or {}).get("symbol", "")
            if symbol == "x":
                ax.scatter(xs, ys, marker="x", color="black", s=40, label=label, zorder=4)
            else:
                ax.scatter(xs, ys, facecolors="none", edgecolors=_colour(trace), s=45, linewidths=1.6,
                           label=label, zorder=3)
        else:
            width = (trace.get("line") or {}).get("width", 1.0)
            ax.plot(xs, ys, color=_colour(trace), linewidth=width, label=label, alpha=trace.get("opacity", 1.0))
    loss_ax.legend(loc="upper right", fontsize=8, ncol=2, framealpha=0.85)
    axes[-1, 0].set_xlabel("step")
    loss_ax.set_title(title, fontsize=11, loc="left")
    figure.tight_layout()
    figure.savefig(path, dpi=100, format="png")
    plt.close(figure)


def write_png(run: Run, diagnosis: Diagnosis, path: str | Path) -> None:
    """The main plot of one run as a PNG file."""
    colours = finding_colours(diagnosis.findings)
    top = diagnosis.primary
    headline = f"{top.id}: {top.title}" if top is not None else "no known cause of fluctuation found"
    title = f"lossdoctor · {diagnosis.path} · {diagnosis.verdict} · {headline}"
    _draw(main_figure(run, diagnosis.findings, colours, signals_of(run)), title, Path(path))


def write_png_many(runs: Sequence[Run], comparison: Comparison, path: str | Path) -> None:
    """The overlaid loss curves of several runs as a PNG file, titled with the comparison's conclusion."""
    colours = [RUN_COLOURS[i % len(RUN_COLOURS)] for i in range(len(runs))]
    names = [f"{label} ({comparison.parameter}={v})" if comparison.parameter and v is not None else label
             for label, v in zip(comparison.labels, comparison.values, strict=True)]
    conclusion = comparison.conclusion if len(comparison.conclusion) < 140 else comparison.conclusion[:137] + "…"
    _draw(overlay_figure(runs, names, colours), f"lossdoctor · {conclusion}", Path(path))
