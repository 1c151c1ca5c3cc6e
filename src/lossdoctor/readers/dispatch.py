"""Route one file to its reader after sniffing its content."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from lossdoctor.errors import LogReadError
from lossdoctor.readers import csv_logs, hf, json_lists, jsonl, lossdoctor_store, tensorboard, text
from lossdoctor.readers._build import listing
from lossdoctor.readers._io import HEAD_BYTES, MAX_JSON_BYTES, MAX_TEXT_BYTES, encoding_of, file_size, head, open_text
from lossdoctor.readers.sniff import sniff
from lossdoctor.run import Run

#: A longer "line" is read in pieces, so one huge line cannot exhaust memory.
MAX_LINE = 1 << 24


def blocks_of(stream: TextIO, size: int = 1 << 22) -> Iterator[list[str]]:
    """Lists of lines (without their newline), read in large blocks: much faster than line by line."""
    rest = ""
    while True:
        chunk = stream.read(size)
        if not chunk:
            if rest:
                yield [rest]
            return
        lines = (rest + chunk).split("\n")
        rest = lines.pop()
        if len(rest) > MAX_LINE:
            lines.append(rest)
            rest = ""
        if lines:
            yield lines


def lines_of(stream: TextIO) -> Iterator[str]:
    for block in blocks_of(stream):
        yield from block


def read_all_file(name: str, path: Path, *, loss_key: str | None = None) -> list[Run]:
    data = head(path)
    if not data.strip():
        raise LogReadError(name, "empty file" if not data else "empty file (only whitespace)")
    if tensorboard.looks_like(data):
        return [tensorboard.read(name, [path], loss_key=loss_key)]
    if lossdoctor_store.looks_like(data):
        return [lossdoctor_store.read(name, path, loss_key=loss_key)]
    encoding = encoding_of(path, data)
    complete = len(data) < HEAD_BYTES
    decoded = data.decode(encoding, errors="replace")
    kind = sniff(data, decoded, complete=complete)
    if not decoded.strip():
        raise LogReadError(name, "empty file (only whitespace)")
    with open_text(path, encoding) as stream:
        if kind == "json":
            return [_read_json(name, path, stream, loss_key)]
        if kind == "jsonl":
            first = decoded.lstrip().splitlines()[0] if decoded.strip() else ""
            if '"log_history"' in first or (complete and len(decoded.strip().splitlines()) == 1
                                             and re.search(r'"\s*:\s*\[', first)):
                return [_read_json(name, path, stream, loss_key)]  # one JSON document on one line
            return [jsonl.read_blocks(name, blocks_of(stream), loss_key=loss_key)]
        if kind == "csv":
            return csv_logs.read_all(name, blocks_of(stream), loss_key=loss_key)
        size = file_size(path)
        if size > MAX_TEXT_BYTES:
            raise LogReadError(name, f"console log of {size / 2**30:.1f} GiB is too large to parse line by line "
                               "(limit 1 GiB, some minutes of parsing); keep the loss lines (`grep -i loss LOG > "
                               "short.log`) or write the metrics as JSONL or CSV, which stream at any size")
        return [text.read_lines(name, lines_of(stream), loss_key=loss_key)]


def _read_json(name: str, path: Path, stream: TextIO, loss_key: str | None) -> Run:
    size = file_size(path)
    if size > MAX_JSON_BYTES:
        raise LogReadError(name, f"JSON file of {size / 2**30:.1f} GiB is too large to parse whole "
                           "(limit 1 GiB); export the metrics as JSONL instead")
    try:
        doc = json.load(stream)
    except json.JSONDecodeError as e:
        cut = " (the file is truncated)" if e.pos >= len(e.doc.rstrip()) else ""
        raise LogReadError(name, f"invalid JSON{cut}: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise LogReadError(name, "invalid JSON: nested too deeply") from None
    if hf.looks_like(doc):
        return hf.read(name, doc, loss_key=loss_key)
    if isinstance(doc, list):
        if json_lists.numbers(doc) is not None:
            return json_lists.read_list(name, doc, loss_key=loss_key)
        return jsonl.read_records(name, doc, loss_key=loss_key)
    if isinstance(doc, dict) and json_lists.is_series_dict(doc):
        return json_lists.read_dict(name, doc, loss_key=loss_key)
    if isinstance(doc, dict):
        raise LogReadError(name, f"JSON document of an unknown layout (no log_history); top-level keys: "
                           f"{listing(list(doc), 15)}")
    raise LogReadError(name, f"JSON document holding a {type(doc).__name__}, not a training log")
