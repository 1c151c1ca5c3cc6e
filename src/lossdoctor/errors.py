"""Errors that the CLI turns into one clear line and exit code 2."""

from __future__ import annotations


class LogReadError(Exception):
    """A log cannot be read: missing, unknown format, truncated, or holding no loss series."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class MissingExtraError(LogReadError):
    """Reading this log needs an optional extra that is not installed (e.g. `tensorboard`)."""
