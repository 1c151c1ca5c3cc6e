"""The HTML report: one self-contained file with interactive plots (Plotly), finding cards and fixes.

`render_html(run, diagnosis)` for one run, `render_html_many(runs, diagnoses, comparison)` for an LR
sweep or any set of runs compared; the live dashboard (`lossdoctor.serve`) serves the same page.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...compare import Comparison
from ...findings import Diagnosis
from ...run import Run
from .model import compare_page, single_page
from .page import html_page

__all__ = ["render_html", "render_html_many"]


def render_html(run: Run, diagnosis: Diagnosis) -> str:
    """The report of one run as a complete HTML document."""
    return html_page(single_page(run, diagnosis))


def render_html_many(runs: Sequence[Run], diagnoses: Sequence[Diagnosis], comparison: Comparison) -> str:
    """Several runs: overlaid curves, the comparison verdict, then each run's own report."""
    return html_page(compare_page(runs, diagnoses, comparison))
