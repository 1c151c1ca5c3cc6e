"""Remedies applied during training: `Guard` clips, skips and backs off when a spike starts.

The adapters for Hugging Face Trainer, Lightning and Keras 3 (torch backend) live in
`lossdoctor.guard.hf`, `lossdoctor.guard.lightning` and `lossdoctor.guard.keras`; each imports only its
own framework. Importing this package does not import torch (the readers use `guard.log`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .names import COLUMNS, GUARD_LOG

if TYPE_CHECKING:
    from .core import Guard

__all__ = ["COLUMNS", "GUARD_LOG", "Guard"]


def __getattr__(name: str) -> Any:
    if name == "Guard":
        from .core import Guard

        return Guard
    raise AttributeError(name)
