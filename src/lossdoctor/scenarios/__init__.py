"""Real, small PyTorch training runs that reproduce each seed story, written in real log formats.

`run_scenario(name, out_dir)` trains one scenario once (seconds on a CPU) and writes every requested
format; `train_scenario(name, seed)` returns the cached records for tests and benchmarks. Only this
package imports torch.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lossdoctor.scenarios import adam_near_convergence, gru_epoch, healthy, partial_last_batch, small_batch
from lossdoctor.scenarios.base import Scenario
from lossdoctor.scenarios.logwriters import ALL_FORMATS, WRITERS, write_logs
from lossdoctor.scenarios.loop import Progress
from lossdoctor.scenarios.records import EvalRecord, StepRecord, TrainLog

__all__ = [
    "ALL_FORMATS",
    "SCENARIOS",
    "WRITERS",
    "EvalRecord",
    "Scenario",
    "ScenarioResult",
    "StepRecord",
    "TrainLog",
    "run_scenario",
    "train_scenario",
    "write_logs",
]

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for module in (partial_last_batch, adam_near_convergence, small_batch, gru_epoch, healthy)
    for s in module.SCENARIOS
}


@dataclass(frozen=True)
class ScenarioResult:
    """What `run_scenario` made: the files per format and what the run is known to show."""

    name: str
    files: dict[str, Path]
    cause: str | None
    steps_per_epoch: int
    description: str
    log: TrainLog


def _fresh_train(name: str, seed: int, progress: Progress | None) -> TrainLog:
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; known: {sorted(SCENARIOS)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest and keeps runs deterministic
    try:
        return SCENARIOS[name].train(seed, progress)
    finally:
        torch.set_num_threads(threads)


@functools.cache
def train_scenario(name: str, seed: int = 0) -> TrainLog:
    """Train `name` once per process and seed; later calls return the same records."""
    return _fresh_train(name, seed, None)


def run_scenario(
    name: str,
    out_dir: str | Path,
    formats: tuple[str, ...] | list[str] = ALL_FORMATS,
    seed: int = 0,
    progress: Progress | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> ScenarioResult:
    """Train scenario `name` (or reuse the cached run when no `progress` is asked) and write its logs.

    `progress` is called with a short line at the end of each epoch (every 500 for seed 002), so a demo
    can show training live. `options` passes per-format writer options, e.g. `{"hf": {"logging_steps": 10}}`.
    """
    log = train_scenario(name, seed) if progress is None else _fresh_train(name, seed, progress)
    scenario = SCENARIOS[name]
    files = write_logs(log, Path(out_dir), formats, options)
    return ScenarioResult(name, files, scenario.cause, log.steps_per_epoch, scenario.description, log)
