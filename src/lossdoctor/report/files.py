"""Reports that are files (HTML, PNG): write them whole or not at all, so a failure leaves no half file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ..compare import Comparison
from ..findings import Diagnosis
from ..run import Run

FILE_FORMATS = ("html", "png")


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_report(fmt: str, out: str | Path, run: Run, diagnosis: Diagnosis) -> Path:
    """Write one run's report as `fmt` ("html" or "png") to `out`."""
    path = Path(out)
    if fmt == "html":
        from .html import render_html

        text = render_html(run, diagnosis)
        _atomic(path, lambda p: p.write_text(text, encoding="utf-8"))
    else:
        from .png import write_png

        _atomic(path, lambda p: write_png(run, diagnosis, p))
    return path


def write_report_many(fmt: str, out: str | Path, runs: Sequence[Run], diagnoses: Sequence[Diagnosis],
                      comparison: Comparison) -> Path:
    """Write the comparison of several runs as `fmt` to `out`."""
    path = Path(out)
    if fmt == "html":
        from .html import render_html_many

        text = render_html_many(runs, diagnoses, comparison)
        _atomic(path, lambda p: p.write_text(text, encoding="utf-8"))
    else:
        from .png import write_png_many

        _atomic(path, lambda p: write_png_many(runs, comparison, p))
    return path
