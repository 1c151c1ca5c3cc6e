"""Parse a CSV stream into numeric columns, chunk by chunk (1M rows in well under a second).

Empty cells are *missing* (Lightning and W&B leave cells empty on rows that log other metrics);
a literal `nan`/`inf` is a value, kept so checks can see it. Text cells count as missing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

_CHUNK = 65536
_NUMERIC = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*|\s*[-+]?(?:nan|inf|infinity)\s*",
                      re.IGNORECASE)


def is_number(cell: str) -> bool:
    return bool(_NUMERIC.fullmatch(cell))


@dataclass
class Table:
    """Column name -> float values and a mask of cells that held a number (in row order)."""

    names: list[str]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    present: dict[str, np.ndarray] = field(default_factory=dict)
    rows: int = 0

    def column(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.values[name], self.present[name]

    def has_values(self, name: str) -> bool:
        return bool(self.present[name].any())


def delimiter_of(header: str) -> str:
    counts = {d: header.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def split_header(line: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter_of(line)), [])


def looks_like_csv(lines: list[str]) -> bool:
    """A named header (no numeric field) and data rows of the same width that are mostly numbers."""
    lines = [ln for ln in lines if ln.strip()]
    if len(lines) < 2:
        return False
    delim = delimiter_of(lines[0])
    header = next(csv.reader([lines[0]], delimiter=delim), [])
    if not header or any(is_number(h) for h in header) or not any(h.strip() for h in header):
        return False
    if len(header) == 1 and not re.fullmatch(r"\s*[\w/.\- ]{1,80}\s*", header[0]):
        return False
    if any(len(h) > 200 for h in header):
        return False
    for row in csv.reader(lines[1:6], delimiter=delim):
        if len(row) != len(header):
            return False
        numeric = sum(is_number(c) or not c.strip() for c in row)
        if numeric * 2 < len(row) or not any(is_number(c) for c in row):
            return False
    return True


def _convert(cells: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    raw = np.char.strip(np.array(cells, dtype=str))
    present = raw != ""
    filled = np.where(present, raw, "nan")
    try:
        return filled.astype(np.float64), present
    except ValueError:
        out = np.full(len(cells), np.nan)
        for i, cell in enumerate(filled):
            if present[i]:
                if is_number(cell):
                    out[i] = float(cell)
                else:
                    present[i] = False
        return out, present


def _rows(block: list[str], delim: str, width: int) -> list[list[str]]:
    rows = []
    for row in csv.reader(block, delimiter=delim):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        rows.append(row if len(row) == width else (row + [""] * width)[:width])
    return rows


def _fast_block(block: list[str], delim: str, width: int) -> np.ndarray | None:
    """All-numeric rows without quotes: one split and one `float` map for the whole block."""
    lines = [ln for ln in block if ln.strip()]
    if not lines:
        return np.zeros((0, width))
    joined = delim.join(lines)
    if '"' in joined or joined.count(delim) != len(lines) * width - 1:
        return None
    try:
        values = np.fromstring(joined, sep=delim)
    except ValueError:  # empty or text cells: the per-cell path handles them
        return None
    return values.reshape(len(lines), width) if len(values) == len(lines) * width else None


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _split(blocks: Iterable[list[str]]) -> Iterator[list[str]]:
    for block in blocks:
        for start in range(0, len(block), _CHUNK):
            yield block[start:start + _CHUNK]


def parse(blocks: Iterable[list[str]]) -> Table:
    """Read the header and every data row; returns numeric columns (empty table if no header)."""
    blocks = iter(blocks)
    first: list[str] = []
    for block in blocks:
        first = [ln for ln in block if ln.strip()]
        if first:
            break
    header_line = first[0] if first else ""
    delim = delimiter_of(header_line)
    names = [h.strip() for h in next(csv.reader([header_line], delimiter=delim), [])]
    unnamed = {f"column_{i}" for i, n in enumerate(names) if not n or _PANDAS_UNNAMED.fullmatch(n)}
    names = _unique([n or f"column_{i}" for i, n in enumerate(names)])
    table = Table(names=names)
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in names}
    width = len(names)
    for block in _split([first[1:], *blocks]):
        fast = _fast_block(block, delim, width)
        if fast is not None:
            table.rows += len(fast)
            for i, name in enumerate(names):
                parts[name].append((fast[:, i], np.ones(len(fast), dtype=bool)))
            continue
        rows = _rows(block, delim, width)
        table.rows += len(rows)
        if rows:
            for name, cells in zip(names, zip(*rows, strict=True), strict=True):
                parts[name].append(_convert(cells))
    for name in names:
        pieces = parts[name]
        table.values[name] = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0)
        table.present[name] = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, bool)
    for name in [n for i, n in enumerate(names) if f"column_{i}" in unnamed and _is_row_index(table, n)]:
        table.names.remove(name)
        del table.values[name], table.present[name]
    return table


#: How pandas names a column that had no header when it read the file (`Unnamed: 0`).
_PANDAS_UNNAMED = re.compile(r"Unnamed: \d+")


def _is_row_index(table: Table, name: str) -> bool:
    """Whether a column with no header of its own counts the rows 0, 1, 2, ... (or from 1): the index that
    `DataFrame.to_csv` writes first by default, which is no series of the run."""
    values, present = table.column(name)
    if not len(values) or not present.all():
        return False
    return bool(np.array_equal(values, np.arange(len(values))) or np.array_equal(values, np.arange(1, len(values) + 1)))
