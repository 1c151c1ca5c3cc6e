"""A run directory: find the log files inside, read the candidates, keep the most informative one."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from lossdoctor.errors import LogReadError, MissingExtraError
from lossdoctor.guard.names import GUARD_LOG
from lossdoctor.readers import tensorboard, wandb
from lossdoctor.readers._io import encoding_of, head, open_text
from lossdoctor.readers.csv_table import parse, split_header
from lossdoctor.readers.dispatch import blocks_of, read_all_file
from lossdoctor.run import EPOCH, VAL_LOSS, Run, Series

#: File-name patterns of logs, in order of preference when two logs are equally informative.
_PATTERNS = ("lossdoctor.db", "trainer_state.json", "events.out.tfevents.*", "metrics.csv", "*.jsonl", "*.csv",
             "*.log", "*.txt", "*.out", "*.json")
_MAX_DEPTH = 4
_MAX_CANDIDATES = 24


def _find(root: Path) -> list[tuple[int, list[Path]]]:
    """(preference, files) per candidate; event files in one folder form one candidate."""
    found: list[tuple[int, list[Path]]] = []
    events: dict[Path, list[Path]] = defaultdict(list)
    seen: set[Path] = set()
    for rank, pattern in enumerate(_PATTERNS):
        for file in sorted(root.rglob(pattern)):
            depth = len(file.relative_to(root).parts)
            hidden = any(part.startswith(".") for part in file.relative_to(root).parts)
            if file in seen or not file.is_file() or depth > _MAX_DEPTH or hidden or file.name == GUARD_LOG:
                continue
            seen.add(file)
            if pattern.startswith("events"):
                events[file.parent].append(file)
            else:
                found.append((rank, [file]))
    found.extend((1, files) for files in events.values())
    found.sort(key=lambda item: (item[0], str(item[1][0])))
    return found[:_MAX_CANDIDATES]


def read_folder(name: str, root: Path, *, loss_key: str | None = None) -> Run:
    candidates = _find(root)
    if not candidates:
        raise LogReadError(name, "directory without logs (no lossdoctor.db, trainer_state.json, events.out.tfevents.*, "
                           "metrics.csv, *.jsonl, *.csv, *.log, *.txt found)")
    best: tuple[tuple[int, int, int], Run, str] | None = None
    others: list[tuple[Run, str]] = []
    problems: list[str] = []
    missing: MissingExtraError | None = None
    for rank, files in candidates:
        label = str(files[0].relative_to(root)) if len(files) == 1 else \
            f"{files[0].parent.relative_to(root)}/events.out.tfevents.* ({len(files)} files)"
        try:
            if files[0].name.startswith("events.out.tfevents") and tensorboard.looks_like(
                    files[0].open("rb").read(128)):
                run = tensorboard.read(str(files[0].parent), files, loss_key=loss_key)
            else:
                run = read_all_file(str(files[0]), files[0], loss_key=loss_key)[-1]
        except MissingExtraError as e:
            missing = e
            problems.append(f"{label}: {e.reason}")
            continue
        except LogReadError as e:
            problems.append(f"{label}: {e.reason}")
            continue
        score = (run.num_steps, len(run.series), -rank)
        others.append((run, label))
        if best is None or score > best[0]:
            best = (score, run, label)
    if best is None:
        if missing is not None and len(problems) == 1:
            raise missing
        raise LogReadError(name, "no readable log in this directory: " + "; ".join(problems[:5]))
    charts = _chart_exports(name, candidates, loss_key)
    if charts is not None and (charts.num_steps, len(charts.series)) >= best[0][:2]:
        charts.facts.notes.insert(0, f"read {charts.facts.notes.pop()} together: W&B writes one CSV per chart")
        return charts
    _, run, label = best
    run.facts.notes.insert(0, f"read {label}, the most informative of the {len(candidates)} candidate "
                              "log(s) in the directory")
    for other, other_label in others:
        if other is not run and _add_epoch_validation(run, other):
            run.facts.notes.append(f"validation loss per epoch taken from {other_label} (the same run's epoch log)")
            break
    return run


def _chart_exports(name: str, candidates: list[tuple[int, list[Path]]], loss_key: str | None) -> Run | None:
    """One run from the W&B chart exports in the directory (`Step`, `<run> - <metric>` columns), when there are
    several: the loss, the LR and the validation loss each come in a CSV of their own."""
    tables = []
    for _, files in candidates:
        file = files[0]
        if file.suffix.lower() != ".csv":
            continue
        data = head(file)
        encoding = encoding_of(file, data)
        first = data.decode(encoding, errors="replace").splitlines()[:1]
        if not first or not wandb.is_chart(split_header(first[0])):
            continue
        with open_text(file, encoding) as stream:
            table = parse(blocks_of(stream))
        if table.rows:
            tables.append(table)
    if len(tables) < 2:
        return None
    try:
        runs = wandb.read_charts(name, tables, loss_key=loss_key, files=len(tables))
    except LogReadError:
        return None
    run = runs[-1]
    run.facts.notes.append(f"the {len(tables)} W&B chart exports")
    return run


def _add_epoch_validation(run: Run, epochs: Run) -> bool:
    """Give a per-step run without validation the validation loss of its per-epoch log (Keras' CSVLogger next
    to a per-batch log), each epoch's value at the last step of that epoch. Only when the epoch numbers line
    up: the per-epoch log must cover the same epochs the per-step log marks."""
    val, marks, length = epochs.get(VAL_LOSS), run.get(EPOCH), run.facts.steps_per_epoch
    if run.get(VAL_LOSS) is not None or val is None or epochs.facts.step_unit != "epoch" \
            or run.facts.step_unit == "epoch" or not len(val):
        return False
    labels = np.round(val.steps).astype(int)
    if marks is not None:
        known = set(np.round(marks.values[np.isfinite(marks.values)]).astype(int))
        if not set(labels) <= known:
            return False
        ends = np.array([marks.steps[np.round(marks.values) == e].max() for e in labels])
    elif length and run.get("loss") is not None and len(run.get("loss")):
        # steps counted as epoch × steps_per_epoch + batch from epoch 0 (Keras' per-batch log next to its
        # CSVLogger, both 0-based): epoch e ends one step before e + 1 starts, within the per-step log
        ends = np.round((labels + 1) * length - 1).astype(np.int64)
        if labels.min() < 0 or ends.max() > run.get("loss").steps.max() + length / 2:
            return False
    else:
        return False
    run.series[VAL_LOSS] = Series(ends.astype(np.int64), val.values.copy())
    return True
