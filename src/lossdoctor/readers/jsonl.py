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
from itertools import chain

import numpy as np

from lossdoctor import keys as K
from lossdoctor.errors import LogReadError
from lossdoctor.readers import keras
from lossdoctor.readers._build import Columns, build_run
from lossdoctor.readers.csv_table import Table
from lossdoctor.run import Run, RunFacts

FORMAT = "jsonl"
#: Step-like keys, best first: a micro-batch counter before an optimizer-update counter, since a log with
#: both has one record per micro-batch.
STEP_KEYS = ("step", "global_step", "iteration", "iter", "it", "num_updates", "_step", "trainer/global_step",
             "train/global_step", "micro_step", "microstep", "micro", "update", "updates", "optimizer_step",
             "opt_step")
_NUM = r'-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|-?Infinity|"(?:[nN]a[nN]|-?[iI]nf(?:inity)?)"'
_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*(' + _NUM + ")")
_MAX_STEP = 2.0**62


Layout = tuple[re.Pattern[str], list[str], list[str]]
_MARKS = [chr(i) for i in range(1, 32) if chr(i) not in "\t\n\r"]
_DELETE = {i: None for i in [*range(32, 127), 9, 13]}


def _template(line: str) -> Layout | None:
    """The layout of `line`: a regex matching lines with the same keys in the same order, the keys,
    and the literal text before each value (used by the fastest path)."""
    parts, keys, glues, pos = [], [], [], 0
    for m in _PAIR.finditer(line):
        glue = line[pos:m.start()]
        if not re.fullmatch(r"\s*[{,]\s*", glue):
            return None
        glues.append(line[pos:m.start(2)].lstrip())
        parts.append(re.escape(line[pos:m.start(2)]))
        parts.append("(" + _NUM + ")")
        keys.append(json.loads(f'"{m.group(1)}"'))
        pos = m.end()
    if not keys or not re.fullmatch(r"\s*}\s*", line[pos:]):
        return None
    return re.compile("^" + "".join(parts) + r"[ \t]*}[ \t\r]*$", re.MULTILINE), keys, glues


def _fast_values(glues: list[str], lines: list[str]) -> np.ndarray | None:
    """Parse a block of same-layout lines with a few `str.replace` calls and one `np.fromstring`.

    Each key's literal is swapped for a marker character; the markers left once everything else is
    deleted must read 1,2,…,k on every line, so a line with other keys or another order falls back.
    """
    k = len(glues)
    if k > len(_MARKS) or len(set(glues)) != k:
        return None
    text = "\n".join(lines)
    for glue, mark in zip(glues, _MARKS, strict=False):
        text = text.replace(glue, mark)
    if text.translate(_DELETE) != "\n".join(["".join(_MARKS[:k])] * len(lines)):
        return None
    text = text.replace("}", "").replace(_MARKS[0], "")
    for mark in _MARKS[1:k]:
        text = text.replace(mark, ",")
    try:
        values = np.fromstring(text.replace("\n", ","), sep=",")
    except ValueError:
        return None
    return values.reshape(len(lines), k) if len(values) == len(lines) * k else None


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


#: String fields that name the phase a record belongs to (`{"split": "valid", "loss": …}`).
_PHASE_FIELDS = ("split", "phase", "mode", "stage", "subset", "set", "partition")


def _is_evaluation(obj: dict) -> bool:
    """Whether a record is tagged as an evaluation's by a phase field rather than by its key names."""
    for field in _PHASE_FIELDS:
        value = obj.get(field)
        if isinstance(value, str) and K.is_val_like(value):
            return True
    return False


class _Records:
    """Collects records, resolving the step of each from the usual step keys or the record index."""

    def __init__(self) -> None:
        self.cols = Columns()
        self.index = 0
        self.last_step: int | None = None  # a record without a step (an evaluation) follows the last step seen
        self.stepped = False  # whether any record carried a step key (else steps number the records)

    def add(self, items: Iterable[tuple[str, float]], *, evaluation: bool = False) -> None:
        items = list(items)
        lookup = dict(items)
        step_key = next((k for k in STEP_KEYS if k in lookup and math.isfinite(lookup[k])), None)
        if step_key is not None and abs(lookup[step_key]) >= _MAX_STEP:
            step_key = None
        if step_key:
            self.stepped = True
            step = self.last_step = int(lookup[step_key])
        else:
            step = self.index if self.last_step is None else self.last_step
        for key, value in items:
            if key != step_key:
                renamed = f"val_{key}" if evaluation and not K.is_val_like(key) and K.normalise(key) != "epoch" else key
                self.cols.add(renamed, step, value)
        self.index += 1

    def add_rows(self, keys: list[str], rows: list[tuple[str, ...]]) -> None:
        try:
            table = np.array(list(map(float, chain.from_iterable(rows)))).reshape(len(rows), len(keys))
        except ValueError:  # quoted "nan"/"inf" strings
            table = np.char.strip(np.array(rows, dtype=str), '"').astype(np.float64)
            table = table.reshape(len(rows), len(keys))
        self.add_block(keys, table)

    def add_block(self, keys: list[str], table: np.ndarray) -> None:
        step_key = next((k for k in STEP_KEYS if k in keys), None)
        if step_key is not None and np.all(np.abs(table[:, keys.index(step_key)]) < _MAX_STEP):
            steps = table[:, keys.index(step_key)].astype(np.int64)
            self.stepped = True
            if len(steps):
                self.last_step = int(steps[-1])
        elif self.last_step is not None:
            step_key = None
            steps = np.full(len(table), self.last_step, dtype=np.int64)
        else:
            step_key = None
            steps = np.arange(self.index, self.index + len(table), dtype=np.int64)
        for i, key in enumerate(keys):
            if key != step_key:
                self.cols.extend(key, steps, table[:, i])
        self.index += len(table)


def read_blocks(path: str, blocks: Iterable[list[str]], *, loss_key: str | None = None) -> Run:
    """Stream JSONL into a Run; a broken last line is a crash mid-write, broken middle lines count.

    A block whose every line has the layout of the current template is parsed at once (`_fast_values`,
    else one `findall`); other blocks line by line.
    """
    records = _Records()
    template: Layout | None = None
    broken: list[int] = []
    last_line = 0
    offset = 0
    for block in blocks:
        lines = block if "" not in block else [ln for ln in block if ln.strip()]
        if lines and template is not None:
            fast = _fast_values(template[2], lines)
            found = [] if fast is not None else template[0].findall("\n".join(lines))
            if fast is not None or len(found) == len(lines):
                if fast is not None:
                    records.add_block(template[1], fast)
                else:
                    records.add_rows(template[1], [f if isinstance(f, tuple) else (f,) for f in found])
                last_line = offset + next(i for i in range(len(block), 0, -1) if block[i - 1].strip())
                offset += len(block)
                continue
        template, last = _slow_block(records, block, offset, template, broken)
        last_line = last or last_line
        offset += len(block)
    return _finish(path, records, broken, last_line, loss_key)


def _slow_block(records: _Records, block: list[str], offset: int,
                template: Layout | None, broken: list[int]) -> tuple[Layout | None, int]:
    """Line by line: template match, else a new template, else `json.loads`."""
    last_line = 0
    pending: list[tuple[str, ...]] = []
    for number, line in enumerate(block, offset + 1):
        if not line.strip():
            continue
        last_line = number
        m = template[0].fullmatch(line) if template is not None else None
        if m is None:
            if pending and template is not None:
                records.add_rows(template[1], pending)
                pending = []
            template = _template(line)
            m = template[0].fullmatch(line) if template is not None else None
        if m is not None:
            pending.append(m.groups())
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            broken.append(number)
            continue
        if isinstance(obj, dict):
            records.add(_flatten(obj), evaluation=_is_evaluation(obj))
        else:
            broken.append(number)
    if pending and template is not None:
        records.add_rows(template[1], pending)
    return template, last_line


def _finish(path: str, records: _Records, broken: list[int], last_line: int, loss_key: str | None) -> Run:
    if records.index == 0:
        raise LogReadError(path, "no valid JSON object on any line" if broken else "empty file")
    facts = RunFacts()
    middle = [n for n in broken if n != last_line]
    if broken and broken[-1] == last_line:
        facts.notes.append(f"line {last_line} is cut off (a crash mid-write?); skipped it")
    if middle:
        facts.notes.append(f"skipped {len(middle)} lines that are not JSON objects (first: line {middle[0]})")
    batches = None if records.stepped else _per_batch_table(records)
    if batches is not None:  # `{"epoch": e, "batch": b, "loss": …}` per batch: Keras' running means, maybe
        run = keras.read_batches(path, batches, loss_key=loss_key)
        run.format = FORMAT
        run.facts.notes.extend(facts.notes)
        return run
    return build_run(path, FORMAT, records.cols, facts, loss_key=loss_key)


def _per_batch_table(records: _Records) -> Table | None:
    """The records as one table when every record has an epoch and a batch number and none a step: a
    per-batch callback's log, which the Keras reader checks for running means since the epoch began."""
    names = records.cols.keys()
    lowered = {n.lower(): n for n in names}
    if "epoch" not in lowered or "batch" not in lowered or records.index < 2:
        return None
    table = Table(names=names, rows=records.index)
    for name in names:
        steps, values = records.cols.get(name)
        column = np.full(records.index, np.nan)
        present = np.zeros(records.index, dtype=bool)
        inside = (steps >= 0) & (steps < records.index)
        column[steps[inside]], present[steps[inside]] = values[inside], True
        table.values[name], table.present[name] = column, present
    if not (table.present[lowered["epoch"]].all() and table.present[lowered["batch"]].all()):
        return None
    return table


def read_records(path: str, items: list, *, loss_key: str | None = None) -> Run:
    """A JSON array of metric objects, read like JSONL."""
    records = _Records()
    skipped = 0
    for obj in items:
        if isinstance(obj, dict):
            records.add(_flatten(obj), evaluation=_is_evaluation(obj))
        else:
            skipped += 1
    if records.index == 0:
        raise LogReadError(path, "JSON array holds no metric objects")
    run = build_run(path, FORMAT, records.cols, RunFacts(), loss_key=loss_key)
    run.facts.notes.append("a JSON array of metric records, read like JSONL"
                           + (f"; skipped {skipped} non-object items" if skipped else ""))
    return run
