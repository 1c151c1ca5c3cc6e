"""Reading the guard's log back: its series join the run, and a summary joins the report's notes.

Torch-free, so `lossdoctor diagnose` reads a guarded run's directory without torch installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..run import Run, Series
from .names import COLUMNS, GUARD_LOG


def find_guard_log(path: Path) -> Path | None:
    """The guard log in a run directory, or next to a log file."""
    folder = path if path.is_dir() else path.parent
    candidate = folder / GUARD_LOG
    return candidate if candidate.is_file() else None


def read_guard_log(path: Path) -> dict[str, Series]:
    """The guard series of a `lossdoctor_guard.jsonl`; a broken line (a crash mid-write) is skipped."""
    steps: list[int] = []
    values: dict[str, list[float]] = {name: [] for name in COLUMNS}
    with path.open() as f:
        for line in f:
            try:
                row = json.loads(line)
                step = int(row["step"])
            except (ValueError, KeyError, TypeError):
                continue
            steps.append(step)
            for name in COLUMNS:
                value = row.get(name)
                values[name].append(float(value) if isinstance(value, int | float) else np.nan)
    return {name: Series(np.asarray(steps), np.asarray(v)) for name, v in values.items() if steps}


def summarise(series: dict[str, Series]) -> list[str]:
    """Plain-language lines: how often the guard clipped, skipped and backed off, and where."""
    if "guard_clip" not in series:
        return []
    steps = series["guard_clip"].steps
    clip = series["guard_clip"].values
    skip = series["guard_skip"].values
    scale = series["guard_lr_scale"].values
    clipped = np.flatnonzero(clip < 1)
    skipped = np.flatnonzero(skip > 0)
    lines = [f"guard ({GUARD_LOG}, {len(steps)} steps): clipped {len(clipped)} step(s)"
             + (f", median factor {np.median(clip[clipped]):.2g}" if len(clipped) else "")
             + f"; skipped {len(skipped)} update(s)"
             + (f" at steps {_some(steps[skipped])}" if len(skipped) else "")]
    undone = np.flatnonzero(skip > 1)
    if len(undone):
        lines.append(f"guard: also undid the update before {len(undone)} of those (steps "
                     f"{_some(steps[undone])}): an outlier loss right after an update may be its damage")
    drops = np.flatnonzero(np.diff(scale) < 0) + 1
    if len(drops):
        lines.append(f"guard: LR backed off {len(drops)} time(s) (steps {_some(steps[drops])}), to "
                     f"{scale[-1]:.3g}× the configured LR at the end")
    if len(skipped) or len(drops):
        lines.append("guard: the loss and grad_norm series above are what the run logged; the guard's "
                     "interventions kept those steps from updating the weights (guard_* series)")
    return lines


def _some(steps: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(s)) for s in steps[:limit])
    return shown + (f", … ({len(steps)} in all)" if len(steps) > limit else "")


def attach_guard_log(run: Run, path: Path) -> None:
    """Add the guard series and summary to a run read from `path`, when a guard log sits there."""
    log = find_guard_log(path)
    if log is None:
        return
    try:
        series = read_guard_log(log)
    except OSError as exc:
        run.facts.notes.append(f"guard log {log.name} could not be read: {exc}")
        return
    run.series.update(series)
    run.facts.notes.extend(summarise(series))
