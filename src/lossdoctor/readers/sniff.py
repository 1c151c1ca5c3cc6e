"""Decide a file's format from its first bytes and lines, never from its name."""

from __future__ import annotations

import json
import re

from lossdoctor.readers import csv_table, tensorboard

_JSONL_LINE = re.compile(r"\s*\{.*\}\s*")
_JSON_NUMBER_ARRAY = re.compile(r"\[\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*(?:[,\]]|$)", re.MULTILINE)


def sniff(data: bytes, text: str | None, *, complete: bool) -> str:
    """One of `tensorboard`, `json`, `jsonl`, `csv`, `text` (`text` is the catch-all).

    `data` is the raw head of the file, `text` the same head decoded (None when it is not text);
    `complete` says whether the head is the whole file (else its last line may be cut).
    """
    if tensorboard.looks_like(data):
        return "tensorboard"
    if text is None:
        return "binary"
    stripped = text.lstrip()
    lines = stripped.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    lines = lines[:40]
    if re.match(r"\[\s*[\[{\]\"]", stripped) or stripped == "[" or (
            _JSON_NUMBER_ARRAY.match(stripped) and not _bracket_then_text(lines[0] if lines else "")):
        return "json"  # (a log line opening with a bracketed timestamp, `[01/01 10:00:00 …`, is text)
    if stripped.startswith("{"):
        first = lines[0] if lines else ""
        if _is_object(first):
            return "jsonl"
        if first.strip() == "{":
            return "json"
        if any(_is_object(ln) for ln in lines[1:] if ln.startswith("{") and _JSONL_LINE.fullmatch(ln)):
            return "jsonl"  # the first line is broken, later ones are JSON objects
        if re.match(r"\{\s*(\"|$)", first):
            return "json"  # a pretty-printed or truncated JSON document
        return "text"  # e.g. Python-repr dicts printed by the HF Trainer
    if csv_table.looks_like_csv(lines):
        return "csv"
    return "text"


def _bracket_then_text(line: str) -> bool:
    """A line that opens with a bracketed list and goes on with text: the PyTorch tutorial's
    `[1,  2000] loss: 2.196` is a console line, not a JSON array."""
    try:
        _, end = json.JSONDecoder().raw_decode(line.strip())
    except (ValueError, RecursionError):
        return False
    rest = line.strip()[end:].lstrip()
    return bool(rest) and rest[0] not in ",]"


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False
