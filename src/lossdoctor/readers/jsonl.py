"""JSON Lines: one metrics object per line (custom loops, `accelerate`, many trackers' local logs).

Speed matters (a 1M-line file must read in well under 2 s): lines that have the same flat numeric
layout as the previous one are matched by one compiled regex built from that layout, and only the
others go through `json.loads`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable

import numpy as np

from lossdoctor.errors import LogReadError
from lossdoctor.readers._build import Columns, build_run
from lossdoctor.run import Run, RunFacts

FORMAT = "jsonl"
STEP_KEYS = ("step", "global_step", "iteration", "iter", "_step", "trainer/global_step", "train/global_step")
_NUM = r'-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|-?Infinity|"(?:[nN]a[nN]|-?[iI]nf(?:inity)?)"'
_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*(' + _NUM + ")")
_CHUNK = 65536
_MAX_STEP = 2.0**62


def _template(line: str) -> tuple[re.Pattern[str], list[str]] | None:
    """A regex that matches lines laid out exactly like `line` (same keys, same order), or None."""
    parts, keys, pos = [], [], 0
    for m in _PAIR.finditer(line):
        glue = line[pos:m.start()]
        if not re.fullmatch(r"\s*[{,]\s*", glue):
            return None
        parts.append(re.escape(line[pos:m.start(2)]))
        parts.append("(" + _NUM + ")")
        keys.append(json.loads(f'"{m.group(1)}"'))
        pos = m.end()
    if not keys or not re.fullmatch(r"\s*}\s*", line[pos:]):
        return None
    return re.compile("".join(parts) + r"\s*}\s*"), keys


def _to_float(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in {"nan", "inf", "-inf", "infinity", "-infinity"}:
        return float(value.strip().lower().replace("infinity", "inf"))
    return None


def _flatten(obj: dict, prefix: str = "") -> Iterable[tuple[str, float]]:
    """Numeric leaves of a (possibly nested) record; nested keys are joined with `/`."""
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, name + "/")
        else:
            number = _to_float(value)
            if number is not None:
                yield name, number


class _Records:
    """Collects records, resolving the step of each from the usual step keys or the record index."""

    def __init__(self) -> None:
        self.cols = Columns()
        self.index = 0

    def add(self, items: Iterable[tuple[str, float]]) -> None:
        items = list(items)
        lookup = dict(items)
        step_key = next((k for k in STEP_KEYS if k in lookup and math.isfinite(lookup[k])), None)
        if step_key is not None and abs(lookup[step_key]) >= _MAX_STEP:
            step_key = None
        step = int(lookup[step_key]) if step_key else self.index
        for key, value in items:
            if key != step_key:
                self.cols.add(key, step, value)
        self.index += 1

    def add_block(self, keys: list[str], rows: list[tuple[str, ...]]) -> None:
        table = np.array(rows).reshape(len(rows), len(keys))
        table = np.char.strip(table, '"').astype(np.float64)
        step_key = next((k for k in STEP_KEYS if k in keys), None)
        if step_key is not None and np.all(np.abs(table[:, keys.index(step_key)]) < _MAX_STEP):
            steps = table[:, keys.index(step_key)].astype(np.int64)
        else:
            step_key = None
            steps = np.arange(self.index, self.index + len(rows), dtype=np.int64)
        for i, key in enumerate(keys):
            if key != step_key:
                self.cols.extend(key, steps, table[:, i])
        self.index += len(rows)


def read_lines(path: str, lines: Iterable[str], *, loss_key: str | None = None) -> Run:
    """Stream JSONL lines into a Run; a broken last line is a crash mid-write, broken middle lines count."""
    records = _Records()
    template: tuple[re.Pattern[str], list[str]] | None = None
    block: list[tuple[str, ...]] = []
    broken: list[int] = []
    last_line = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        last_line = number
        if template is not None:
            m = template[0].fullmatch(line)
            if m:
                block.append(m.groups())
                if len(block) >= _CHUNK:
                    records.add_block(template[1], block)
                    block = []
                continue
        if block:
            records.add_block(template[1], block)  # type: ignore[index]
            block = []
        template = _template(line)
        if template is not None:
            block.append(template[0].fullmatch(line).groups())  # type: ignore[union-attr]
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            broken.append(number)
            continue
        if isinstance(obj, dict):
            records.add(_flatten(obj))
        else:
            broken.append(number)
    if block and template is not None:
        records.add_block(template[1], block)
    return _finish(path, records, broken, last_line, loss_key)


def _finish(path: str, records: _Records, broken: list[int], last_line: int, loss_key: str | None) -> Run:
    if records.index == 0:
        raise LogReadError(path, "no valid JSON object on any line" if broken else "empty file")
    facts = RunFacts()
    middle = [n for n in broken if n != last_line]
    if broken and broken[-1] == last_line:
        facts.notes.append(f"line {last_line} is cut off (a crash mid-write?); skipped it")
    if middle:
        facts.notes.append(f"skipped {len(middle)} lines that are not JSON objects (first: line {middle[0]})")
    return build_run(path, FORMAT, records.cols, facts, loss_key=loss_key)


def read_records(path: str, items: list, *, loss_key: str | None = None) -> Run:
    """A JSON array of metric objects, read like JSONL."""
    records = _Records()
    skipped = 0
    for obj in items:
        if isinstance(obj, dict):
            records.add(_flatten(obj))
        else:
            skipped += 1
    if records.index == 0:
        raise LogReadError(path, "JSON array holds no metric objects")
    run = build_run(path, FORMAT, records.cols, RunFacts(), loss_key=loss_key)
    run.facts.notes.append("a JSON array of metric records, read like JSONL"
                           + (f"; skipped {skipped} non-object items" if skipped else ""))
    return run
