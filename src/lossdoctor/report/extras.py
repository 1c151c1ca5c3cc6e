"""Optional dependencies of the rich reports, with the one line that says what to install."""

from __future__ import annotations


class MissingReportExtra(Exception):
    """A report format needs an optional extra that is not installed."""


def require_plotly() -> None:
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise MissingReportExtra("--format html needs plotly: pip install 'lossdoctor[html]'") from None


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingReportExtra("--format png needs matplotlib: pip install 'lossdoctor[png]'") from None
