"""The `Scenario` entry: a name, the cause it reproduces, and how to train it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lossdoctor.scenarios.loop import Progress
from lossdoctor.scenarios.records import TrainLog

Trainer = Callable[[int, Progress | None], TrainLog]


@dataclass(frozen=True)
class Scenario:
    """A real small training run; `cause` is the cause id it reproduces, None for a healthy run."""

    name: str
    cause: str | None
    description: str
    train: Trainer
