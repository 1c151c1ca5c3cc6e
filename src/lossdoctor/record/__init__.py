"""Live recording of a training run: `lossdoctor.watch(model, optimizer, run_dir=...)`, then `rec.step(loss)`.

Recording needs torch (the `torch` extra); the store it writes (`run_dir/lossdoctor.db`) is read by
`lossdoctor.read(run_dir)` and `lossdoctor diagnose run_dir` without torch, so this package imports
torch only when the recorder itself is asked for.
"""

from __future__ import annotations

from typing import Any

__all__ = ["STORE_NAME", "GradientNoiseScale", "Recorder", "read_store", "watch"]


def __getattr__(name: str) -> Any:
    if name in {"Recorder", "watch"}:
        from lossdoctor.record import recorder

        return getattr(recorder, name)
    if name == "GradientNoiseScale":
        from lossdoctor.record.noise_scale import GradientNoiseScale

        return GradientNoiseScale
    if name in {"STORE_NAME", "read_store"}:
        from lossdoctor.record import store

        return getattr(store, name)
    raise AttributeError(name)
