"""Terminal report for several runs: one line per run, the comparison table, the conclusion."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..compare import Comparison
from ..findings import Diagnosis
from ..signals import fmt
from .terminal import _VERDICT_STYLE


def _value(v: float | str | None) -> str:
    return "?" if v is None else fmt(v) if isinstance(v, float) else str(v)


def render_many(diagnoses: Sequence[Diagnosis], comparison: Comparison, console: Console) -> None:
    """Print each run's verdict and top finding, then how the fluctuation follows the parameter."""
    console.print(f"[bold]lossdoctor[/] comparing {len(diagnoses)} runs")
    for label, d in zip(comparison.labels, diagnoses, strict=True):
        top = d.primary
        what = f"{top.id} ({top.severity}): {top.title}" if top is not None else "no known cause found"
        style = _VERDICT_STYLE[d.verdict]
        console.print(f"  {escape(label)}  {escape(d.path)}")
        console.print(f"      verdict: [{style}]{d.verdict}[/] · top finding: {escape(what)}")
    table = Table(title="how the fluctuation changes", title_justify="left")
    table.add_column("run")
    table.add_column(escape(comparison.parameter or "parameter (unknown)"), justify="right")
    table.add_column("step-to-step scatter", justify="right")
    table.add_column("in loss units", justify="right")
    table.add_column("loss level", justify="right")
    table.add_column("ends above best", justify="right")
    for label, value, f in zip(comparison.labels, comparison.values, comparison.fluctuations, strict=True):
        if not f.measured:
            table.add_row(label, _value(value), f"— ({f.points} points)", "—", "—", "—")
            continue
        scatter = f"±{f.percent:.1f}%" if f.log_space else "n/a"
        climb = (f"×{f.climb:.2f}" if f.climb < 1e4 else f"×{fmt(f.climb)}") if f.log_space else fmt(f.climb)
        table.add_row(label, _value(value), scatter, f"±{fmt(f.absolute)}", fmt(f.level), climb)
    console.print(table)
    console.print(f"[bold]conclusion:[/] {escape(comparison.conclusion)}")
    for line in comparison.evidence:
        console.print(f"  • {escape(line)}")
