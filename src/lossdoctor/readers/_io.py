"""Opening files safely: every OS or decoding problem becomes a one-line `LogReadError`."""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import TextIO

from lossdoctor.errors import LogReadError

HEAD_BYTES = 65536
#: JSON documents are parsed whole; above this size that would take minutes and gigabytes.
MAX_JSON_BYTES = 1 << 30
#: Console logs go through a dozen patterns per line (about 20 µs): above this size, minutes.
MAX_TEXT_BYTES = 1 << 30


def head(path: Path, n: int = HEAD_BYTES) -> bytes:
    """The first `n` bytes, read once for sniffing."""
    try:
        with path.open("rb") as f:
            return f.read(n)
    except OSError as e:
        raise LogReadError(str(path), f"cannot open: {e.strerror or e}") from None


def encoding_of(path: Path, data: bytes) -> str:
    """The text encoding of a file, or a clear error for binary or undecodable content."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # PowerShell's `>` writes UTF-16 logs
    if b"\x00" in data:
        raise LogReadError(str(path), "binary data (NUL bytes), not a text log or a known binary log format")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=len(data) < HEAD_BYTES)
    except UnicodeDecodeError as e:
        raise LogReadError(str(path), f"undecodable text: not UTF-8 (byte 0x{data[e.start]:02x} at offset "
                           f"{e.start})") from None
    return "utf-8"


def open_text(path: Path, encoding: str) -> TextIO:
    """A text stream with universal newlines (CRLF, `\\r\\r\\n`, `\\r` progress bars become lines)."""
    try:
        return path.open("r", encoding=encoding, errors="replace", newline=None)
    except OSError as e:
        raise LogReadError(str(path), f"cannot open: {e.strerror or e}") from None


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError as e:
        raise LogReadError(str(path), f"cannot open: {e.strerror or e}") from None
