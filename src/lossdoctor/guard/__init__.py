"""Remedies applied during training: `Guard` clips, skips and backs off when a spike starts.

The adapters for Hugging Face Trainer, Lightning and Keras 3 (torch backend) live in
`lossdoctor.guard.hf`, `lossdoctor.guard.lightning` and `lossdoctor.guard.keras`; each imports only its
own framework.
"""

from __future__ import annotations

from .core import Guard
from .record import COLUMNS, GUARD_LOG

__all__ = ["COLUMNS", "GUARD_LOG", "Guard"]
