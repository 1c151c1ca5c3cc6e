"""Log writers: one `TrainLog` laid out as each real framework writes it.

Every writer is `write(log, out_dir, **options) -> Path` and returns the main file it wrote. Step-level
formats log every step unless given `log_every`; Hugging Face uses `logging_steps` (default 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lossdoctor.scenarios.logwriters import hf, jsonl, keras, lightning, tensorboard, text, wandb
from lossdoctor.scenarios.records import TrainLog

Writer = Callable[..., Path]

WRITERS: dict[str, Writer] = {
    "jsonl": jsonl.write,
    "hf": hf.write,
    "lightning": lightning.write,
    "keras_epoch": keras.write_epoch,
    "keras_batch": keras.write_batch,
    "tensorboard": tensorboard.write,
    "text": text.write,
    "wandb": wandb.write,
}
ALL_FORMATS: tuple[str, ...] = tuple(WRITERS)


def write_logs(
    log: TrainLog,
    out_dir: Path,
    formats: tuple[str, ...] | list[str] = ALL_FORMATS,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Path]:
    """Write `log` in each of `formats` under `out_dir`; returns format -> file written."""
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise ValueError(f"unknown log format(s) {unknown}; known: {list(WRITERS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    options = options or {}
    return {fmt: WRITERS[fmt](log, out_dir, **dict(options.get(fmt, {}))) for fmt in formats}
